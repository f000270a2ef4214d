"""A model that ranks by AS_e (the explain profile) is ranked by AS_e in the app, not by AS_r."""
import numpy as np

from ddrid_gui.document import PatchTable
from ddrcore.io.images import PatchSet, PatchSource
from ddrcore.model.scoring import Scores


def test_table_ranks_by_the_residual_score_when_the_model_does():
    t = PatchTable(patch_size=32)
    t.add(PatchSet(np.zeros((3, 1, 32, 32), np.float32), [PatchSource("a.tif", 0, 0, 32 * i) for i in range(3)]))
    s = Scores(latent=np.array([3.0, 2.0, 1.0]), recon=np.array([1.0, 2.0, 3.0]), residual=np.array([5.0, 9.0, 7.0]),
               score_type="residual", threshold=8.0)
    t.set_scores(np.arange(3), s)
    assert t.score.tolist() == [5.0, 9.0, 7.0]
    assert t.scores_for([1]).score.tolist() == [9.0]
    # Scores without AS_e (a paper-profile model) leave it NaN and rank by their own choice.
    t.set_scores(np.arange(3), Scores(latent=np.array([3.0, 2.0, 1.0]), recon=np.array([1.0, 2.0, 3.0]),
                                      score_type="latent", threshold=2.5))
    assert np.isnan(t.residual).all() and t.score.tolist() == [3.0, 2.0, 1.0]


def test_table_ranks_by_the_combined_score_and_exports_it():
    t = PatchTable(patch_size=32)
    t.add(PatchSet(np.zeros((3, 1, 32, 32), np.float32), [PatchSource("a.tif", 0, 0, 32 * i) for i in range(3)]))
    s = Scores(latent=np.array([3.0, 2.0, 1.0]), recon=np.array([1.0, 2.0, 3.0]), residual=np.array([5.0, 9.0, 7.0]),
               combined=np.array([0.5, -1.0, 4.0]), score_type="combined", threshold=1.0)
    t.set_scores(np.arange(3), s)
    assert t.score.tolist() == [0.5, -1.0, 4.0]
    sub = t.scores_for([2, 0])
    assert sub.score.tolist() == [4.0, 0.5] and sub.combined.tolist() == [4.0, 0.5]
    t.clear_scores()
    assert np.isnan(t.combined).all() and t.score is None
