"""Files in and out: images and patches, ranked CSVs and decompositions,
projects, reports, and the rules every output obeys (atomic, never over an input).
"""
