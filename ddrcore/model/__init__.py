"""The DDR-ID model: networks (Table 1), preprocessing, training (Algorithm 1),
scoring (Algorithm 2), the quality check and the model file.

``import ddrcore.model`` does not import torch; its modules do, when used.
"""
