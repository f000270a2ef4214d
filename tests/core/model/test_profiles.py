"""Training profiles (issue #9): the paper profile is Eq. 3-6 exactly; the explain profile's
fields survive the model file; a detection test that can fail."""
import math

import numpy as np
import pytest
import torch

from ddrcore.config import PROFILES, TrainConfig
from ddrcore.errors import ModelFileError
from ddrcore.model import modelfile
from ddrcore.model.training import EXPLAIN_CLASS_RECON, EXPLAIN_LSC_WEIGHT, EXPLAIN_RESIDUAL_L1, finetune_losses
from ddrcore.progress import run_to_end
from synthetic import blob_patch, ring_patch


def _batch(seed=0, m=3, c=1, s=4, d=5):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(m, c, s, s, generator=g, dtype=torch.float64)
    z = torch.randn(m, d, generator=g, dtype=torch.float64)
    z_c = torch.randn(d, generator=g, dtype=torch.float64)
    logits = torch.randn(m, generator=g, dtype=torch.float64)
    x_c = torch.rand(m, c, s, s, generator=g, dtype=torch.float64) * 2 - 1
    x_n = torch.rand(m, c, s, s, generator=g, dtype=torch.float64) * 2 - 1
    return x, z, z_c, logits, x_c, x_n


def _by_hand(x, z, z_c, logits, x_c, x_n):
    """Eq. 3-5 written out sample by sample, pixel by pixel, in numpy."""
    x, z, z_c, logits, x_c, x_n = (t.numpy() for t in (x, z, z_c, logits, x_c, x_n))
    n = len(x)
    l_oc = sum(sum((z[i, j] - z_c[j]) ** 2 for j in range(z.shape[1])) for i in range(n)) / n        # Eq. 3
    d = 1 / (1 + np.exp(-logits))                                                                     # D_L(E_C(X))
    l_lsc = sum(math.log(1 - d[i]) for i in range(n)) / n                                           # Eq. 4, E_C's term
    l_r = sum(((x_c[i] + x_n[i] - x[i]) ** 2).sum() for i in range(n)) / n                          # Eq. 5
    return l_oc, l_lsc, l_r


def test_paper_losses_are_eq_3_to_6_exactly():
    batch = _batch()
    got = finetune_losses(*batch, profile="paper")
    l_oc, l_lsc, l_r = _by_hand(*batch)
    assert set(got) == {"L_OC", "L_LSC", "L_R", "total"}
    assert got["L_OC"].item() == pytest.approx(l_oc, rel=1e-12)
    assert got["L_LSC"].item() == pytest.approx(l_lsc, rel=1e-12)
    assert got["L_R"].item() == pytest.approx(l_r, rel=1e-12)
    assert got["total"].item() == pytest.approx(l_oc + l_lsc + l_r, rel=1e-12)      # Eq. 6: the plain sum


def test_explain_adds_exactly_its_two_terms_and_weighs_l_lsc():
    batch = _batch(seed=1)
    x, _z, _zc, _lg, x_c, x_n = batch
    paper = finetune_losses(*batch, profile="paper")
    got = finetune_losses(*batch, profile="explain")
    l1 = np.abs(x_n.numpy()).reshape(len(x), -1).sum(1).mean()
    xc = ((x_c.numpy() - x.numpy()) ** 2).reshape(len(x), -1).sum(1).mean()
    for k in ("L_OC", "L_LSC", "L_R"):
        assert got[k].item() == pytest.approx(paper[k].item(), rel=1e-12)
    assert got["L1_XN"].item() == pytest.approx(l1, rel=1e-12)
    assert got["L_XC"].item() == pytest.approx(xc, rel=1e-12)
    lsc = paper["L_LSC"].item()
    assert got["total"].item() == pytest.approx(
        paper["total"].item() + (EXPLAIN_LSC_WEIGHT - 1) * lsc + EXPLAIN_RESIDUAL_L1 * l1 + EXPLAIN_CLASS_RECON * xc,
        rel=1e-12)
    with pytest.raises(ValueError, match="profile"):
        finetune_losses(*batch, profile="nonsense")


def test_profile_is_checked_like_every_other_field():
    assert "paper" in PROFILES and "explain" in PROFILES
    for bad in ("nonsense", 3, None, True):
        with pytest.raises(ValueError, match="profile"):
            TrainConfig(profile=bad).validate()


@pytest.fixture(scope="module")
def explain_model():
    torch.set_num_threads(1)
    r = np.random.default_rng(5)
    x = np.stack([ring_patch(r) for _ in range(16)]).astype(np.float32)[:, None]
    cfg = TrainConfig(pretrain_epochs=1, finetune_epochs=1, batch_size=8, min_steps_per_epoch=0, device="cpu",
                      seed=2, profile="explain")
    return run_to_end(train_job(x, cfg))


def train_job(x, cfg):
    from ddrcore.model.training import train

    return train(x, cfg)


def test_explain_model_file_round_trip(explain_model, tmp_path):
    m = explain_model
    assert m.config.profile == "explain"
    assert m.score_type == "combined"                   # AS_c, the explain profile's score
    by = m.validation["synthetic_auc_by_score"]
    assert set(by) == {"latent", "recon", "residual", "combined"}
    loaded = modelfile.load(modelfile.save(m, tmp_path / "e.ddrid"), "cpu")
    assert loaded.config.profile == "explain"
    assert loaded.score_type == m.score_type
    np.testing.assert_array_equal(loaded.validation_scores["residual"], m.validation_scores["residual"])


def test_model_file_without_profile_loads_as_paper(explain_model, tmp_path):
    payload = modelfile.to_payload(explain_model)
    del payload["config"]["profile"]
    p = tmp_path / "old.ddrid"
    torch.save(payload, p)
    assert modelfile.load(p, "cpu").config.profile == "paper"


@pytest.mark.parametrize("bad", ["evil", 7, ["explain"]])
def test_forged_profile_is_refused(explain_model, tmp_path, bad):
    payload = modelfile.to_payload(explain_model)
    payload["config"]["profile"] = bad
    p = tmp_path / "forged.ddrid"
    torch.save(payload, p)
    with pytest.raises(ModelFileError, match="profile"):
        modelfile.load(p, "cpu")


@pytest.mark.slow   # trains to a detection verdict
def test_detection_rings_vs_blobs_can_fail():
    """The default profile must separate blobs from the rings it was trained on (AUC >= 0.85).

    Small and fixed: 48 training rings, 4 + 4 epochs at batch 16, seed 0, one thread.
    """
    from ddrcore.model.scoring import roc_auc, score_patches
    from ddrcore.model.training import train

    torch.set_num_threads(1)
    r = np.random.default_rng(0)
    x = np.stack([ring_patch(r) for _ in range(48)]).astype(np.float32)[:, None]
    test = np.stack([ring_patch(r) for _ in range(16)] + [blob_patch(r) for _ in range(16)]).astype(np.float32)[:, None]
    y = np.r_[np.zeros(16), np.ones(16)]
    cfg = TrainConfig(pretrain_epochs=4, finetune_epochs=4, batch_size=16, min_steps_per_epoch=0, device="cpu",
                      seed=0)
    model = run_to_end(train(x, cfg))
    auc = roc_auc(run_to_end(score_patches(model, test)).score, y)
    assert auc >= 0.85, f"AUC {auc:.3f} with the {cfg.profile} profile ({model.score_type} score)"


def test_ring_bench_pieces():
    from ddrcore.bench.rings import decomposition_measures, localised, ring_patches

    x, c = ring_patches(4, seed=0, spot=True)
    assert x.shape == (4, 1, 32, 32) and np.isfinite(c).all()
    _, c0 = ring_patches(2, seed=0)
    assert np.isnan(c0).all()
    res = np.zeros((2, 1, 32, 32))
    res[0, 0, int(c[0, 0]), int(c[0, 1])] = 5.0       # peaks on the spot
    res[1, 0, 0, 0] = 5.0                              # peaks far away
    assert localised(res, c[:2]).tolist() == [True, False]
    m = decomposition_measures(x, x, np.zeros_like(x))
    assert m["corr"] == pytest.approx(1.0) and m["saturated_pct"] == 0.0
    m = decomposition_measures(x, np.zeros_like(x), np.ones_like(x))
    assert m["corr"] == 0.0 and m["saturated_pct"] == 100.0


def test_profile_options_on_the_command_line():
    from ddrcore.cli import build_parser

    p = build_parser()
    assert p.parse_args(["train", "d", "-o", "m.ddrid", "--profile", "explain"]).profile == "explain"
    assert p.parse_args(["train", "d", "-o", "m.ddrid"]).profile is None          # TrainConfig's default
    assert p.parse_args(["demo", "--profile", "paper"]).profile == "paper"
    assert p.parse_args(["score", "m.ddrid", "t", "--csv", "o.csv", "--score", "residual"]).score == "residual"
    a = p.parse_args(["bench", "accuracy", "--data", "d", "--json", "o.json", "--profile", "explain"])
    assert a.profile == "explain"
    assert p.parse_args(["bench", "rings", "--profile", "explain"]).profile == "explain"
    with pytest.raises(SystemExit):
        p.parse_args(["train", "d", "-o", "m.ddrid", "--profile", "nonsense"])


def test_detail_view_residual_follows_the_profile(explain_model, tiny_model):
    from ddrcore.model.decomposition import default_residual, explain

    import copy

    paper_model = copy.deepcopy(tiny_model)
    paper_model.config.profile = "paper"
    assert default_residual(explain_model) == "input_minus_x_c"
    assert default_residual(paper_model) == "x_n"
    r = np.random.default_rng(0)
    e = explain(explain_model, ring_patch(r).astype(np.float32)[None])
    assert e.residual == "input_minus_x_c" and e.heat.shape == (32, 32)
    from ddrcore.model.score_type import ScoreType

    assert ScoreType(explain_model.score_type).label in e.why
    assert "explain profile" in e.why                              # the explain profile's rule, said
    # The heat a normal shows, in this patch's units: root of the validation AS_e 99th percentile.
    from ddrcore.model.preprocess import gcn_constants

    _, scale = gcn_constants(ring_patch(np.random.default_rng(0)).astype(np.float64)[None, None])
    span = explain_model.preprocessor.maximum - explain_model.preprocessor.minimum
    want = np.sqrt(np.quantile(explain_model.validation_scores["residual"].astype(np.float64), 0.99)) * span
    assert e.heat_normal == pytest.approx(want * float(scale.ravel()[0]), rel=1e-5)
    assert np.isnan(explain(paper_model, ring_patch(r).astype(np.float32)[None]).heat_normal)  # X_N heat
    assert "decided" in e.why                                      # ... and which score decided here
    from ddrcore.model.combined import residual_decides

    cal = {"latent": (0.0, 1.0), "residual": (0.0, 1.0)}
    e1 = float(np.e)                                               # z(AS_l) = 1
    assert residual_decides(e1, float(np.exp(3.5)), cal) and not residual_decides(e1, float(np.exp(2.5)), cal)


@pytest.mark.parametrize("profile", ["paper", "explain"])
def test_which_losses_reach_the_class_encoder(profile):
    """Under "explain" E_C learns from L_OC (+ EXPLAIN_LSC_WEIGHT x L_LSC) only (its latent stays one-class,
    as Deep SVDD's); the reconstruction terms train the decoders.  Under "paper" L_R reaches E_C too."""
    from ddrcore.model.networks import DDRIDNetworks
    from ddrcore.model.training import finetune_step

    torch.manual_seed(0)
    nets = DDRIDNetworks(1, 16, 32)
    nets.train()
    x = torch.rand(6, 1, 32, 32) * 2 - 1
    z_c = torch.zeros(16)
    params = [*nets.r_c.parameters(), *nets.r_n.parameters()]

    class Capture(torch.optim.SGD):
        """Keeps the gradients of one step and changes nothing."""
        def step(self, closure=None):
            self.grads = {id(p): p.grad.clone() for p in params if p.grad is not None}

    opt_r = Capture(params, lr=0.0)
    opt_d = torch.optim.SGD(nets.d_l.parameters(), lr=0.0)
    torch.manual_seed(1)
    finetune_step(nets, opt_r, opt_d, x, z_c, 0.1, profile=profile)
    got = opt_r.grads
    # The same E_C gradient from the one-class terms alone (D_L's noise redrawn with the same seed).
    enc = list(nets.r_c.encoder.parameters())
    torch.manual_seed(1)
    z_fake = z_c + 0.1 * torch.randn(len(x), 16)
    z = nets.r_c.encoder(x)
    logits = nets.d_l(torch.cat([z_fake, z]))
    one_class = finetune_losses(x, z, z_c, logits[len(x):], x, torch.zeros_like(x), profile="paper")
    grads = torch.autograd.grad(one_class["L_OC"] + EXPLAIN_LSC_WEIGHT * one_class["L_LSC"], enc)
    same = all(torch.allclose(got[id(p)], g, rtol=1e-4, atol=1e-6) for p, g in zip(enc, grads))
    assert same == (profile == "explain")
    # The class decoder learns in both profiles.
    assert any(got[id(p)].abs().sum() > 0 for p in nets.r_c.decoder.parameters())


def test_combined_score_is_as_l_unless_the_residual_stands_out(explain_model):
    """AS_c = max(z(AS_l), z(AS_e) - 1.5) on the validation normals' log scale; its threshold is the
    validation quantile of AS_c; a model file claiming AS_c without the scores it needs is refused."""
    from ddrcore.model.combined import RESIDUAL_MARGIN, calibration
    from ddrcore.model.scoring import score_patches

    m = explain_model
    r = np.random.default_rng(9)
    x = np.stack([ring_patch(r) for _ in range(6)] + [blob_patch(r) for _ in range(6)]).astype(np.float32)[:, None]
    s = run_to_end(score_patches(m, x))
    v = m.validation_scores
    z = {}
    for k in ("latent", "residual"):
        lv = np.log(v[k].astype(np.float64))
        z[k] = (np.log(getattr(s, k).astype(np.float64)) - lv.mean()) / lv.std()
    want = np.maximum(z["latent"], z["residual"] - RESIDUAL_MARGIN)
    np.testing.assert_allclose(s.combined, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(s.score, s.combined)
    assert m.threshold == pytest.approx(float(np.quantile(v["combined"].astype(np.float64),
                                                          m.config.threshold_quantile)), rel=1e-6)
    assert calibration({"latent": v["latent"]}) is None


def test_model_file_claiming_combined_without_its_scores_is_refused(explain_model, tmp_path):
    payload = modelfile.to_payload(explain_model)
    payload["validation_scores"] = {k: t for k, t in payload["validation_scores"].items() if k == "latent"}
    p = tmp_path / "forged.ddrid"
    torch.save(payload, p)
    with pytest.raises(ModelFileError, match="score_type"):
        modelfile.load(p, "cpu")


def test_combined_is_derived_for_a_model_file_without_it(explain_model):
    """Model files from before AS_c hold AS_l and AS_e validation scores: --score combined still works."""
    import copy

    from ddrcore.model.scoring import use_score, validation_scores_of

    m = copy.deepcopy(explain_model)
    stored = m.validation_scores.pop("combined")
    np.testing.assert_allclose(validation_scores_of(m, "combined"), stored, rtol=1e-5, atol=1e-5)
    m.score_type = "latent"
    use_score(m, "combined")
    assert m.score_type == "combined"
    assert m.threshold == pytest.approx(float(np.quantile(stored.astype(np.float64), m.config.threshold_quantile)),
                                        rel=1e-4)


@pytest.mark.slow
def test_detail_of_a_cell_score_model_uses_the_objects_measurements():
    # A model that ranks by AS_cell: the Detail line needs the object's measurements (its PatchSource);
    # without them it says what the network alone gives instead of failing.
    from ddrcore.io.images import patches_from_array
    from ddrcore.model.decomposition import explain
    from ddrcore.model.training import train
    from ddrcore.objects import Patching, objects_in_array
    from ddrcore.objects.synthetic import make_field

    f = make_field((192, 192), ("blob",), n=14, size=20, seed=2)
    objects, patching = objects_in_array(f.image, Patching("labels"), labels=f.labels)
    patches = patches_from_array(f.image, objects, patching)
    cfg = TrainConfig(pretrain_epochs=1, finetune_epochs=1, batch_size=8, min_steps_per_epoch=0, device="cpu")
    cfg.set_patching(patching)
    cfg.input_size = int(patches.images.shape[-1])     # crops over 32 px go to a 64 px input
    model = run_to_end(train(patches, cfg))
    assert model.score_type == "cell"
    with_source = explain(model, patches.images[0], source=patches.sources[0])
    assert "AS_cell" in with_source.why and "measurements" in with_source.why
    alone = explain(model, patches.images[0])
    assert "AS_c " in alone.why and "without its object's measurements" in alone.why


def test_explain_trains_a_bias_free_class_encoder_and_paper_keeps_table1(explain_model):
    enc = explain_model.nets.r_c.encoder
    # No bias and no BatchNorm shift or scale anywhere in E_C: nothing lets it map every input to Z_C.
    assert [n for n, _ in enc.named_parameters() if not n.endswith("weight") or ".bias" in n] == []
    assert all(not m.affine for m in enc.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert explain_model.nets.r_n.encoder.fc.bias is not None       # R_N keeps Table 1's layers
    assert TrainConfig(profile="paper").encoder_form() == "table1"
    assert TrainConfig(profile="explain").encoder_form() == "biasfree"
    assert TrainConfig(profile="explain", class_encoder="table1").encoder_form() == "table1"


def test_model_file_says_which_class_encoder_its_weights_fit(explain_model, tmp_path):
    from ddrcore.model.networks import Autoencoder

    payload = modelfile.to_payload(explain_model)
    assert payload["config"]["class_encoder"] == "biasfree"
    # A file from before the field held Table 1's E_C: without the field it loads as one.
    table1 = Autoencoder(1, explain_model.nets.latent_dim, explain_model.input_size).state_dict()
    payload["state"]["r_c"] = table1
    del payload["config"]["class_encoder"]
    del payload["config"]["x_c_source"], payload["state"]["view"]     # nor had such files a pretrained view
    torch.save(payload, tmp_path / "old.ddrid")
    assert modelfile.load(tmp_path / "old.ddrid", "cpu").nets.r_c.encoder.fc.bias is not None
    # Weights that do not fit the stated encoder, or an encoder ddrid does not know, are refused.
    for claim in ("biasfree", "resnet"):
        payload["config"]["class_encoder"] = claim
        torch.save(payload, tmp_path / "forged.ddrid")
        with pytest.raises(ModelFileError):
            modelfile.load(tmp_path / "forged.ddrid", "cpu")
