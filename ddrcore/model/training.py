"""DDR-ID training (paper Section 3.2, Algorithm 1) as a job.

``train(patches, config)`` is a generator: it yields :class:`Progress` after
every optimiser step and returns a :class:`DDRIDModel`.  Stopping iteration
(Cancel) between yields simply abandons the networks in memory; nothing is
written to disk here, so a cancelled run leaves no half-written file.

Stages
1. split the normal patches 90/10 into training and validation subsets;
2. fit the preprocessing constants on the training subset;
3. pretrain R_C and R_N as autoencoders (Eq. 1, 2);
4. Z_C = mean latent of the training subset under E_C (after BatchNorm
   recalibration, see batchnorm.py);
5. finetune R_C, R_N against L_OC + L_LSC + L_R (Eq. 6) with D_L trained
   adversarially against samples of N(Z_C, sigma^2 I); Z_C stays fixed;
6. recalibrate BatchNorm, score the validation subset, pick the score
   (profile "paper": AS_l or AS_r by Algorithm 2; "explain": AS_c, see
   combined.py) and the default threshold.

Profiles (TrainConfig.profile): "paper" is Eq. 3-6 exactly; "explain" adds two
terms to the finetuning loss (see :func:`finetune_losses`), lets only the
one-class terms reach E_C (see :func:`finetune_step`) and initialises the
decoders' output layer as DCGAN does (see :func:`ddrcore.model.networks.init_output_layers`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from . import ranks as process_ranks
from ..base import autocast, select_device
from ..config import TrainConfig
from ..errors import TrainingError
from ..io.images import PatchSet
from .ddrid import DDRIDModel, to_tensor
from .networks import DDRIDNetworks, init_output_layers, recon_error
from .preprocess import Preprocessor
from ..progress import Clock, Job, Progress
from .minibatch import (MIN_PATCHES, batches, check_finite, dihedral, dihedral_views, effective_batch_size,
                        split_indices)
from .scoring import default_threshold, score_preprocessed, select_score_type, validation_scores_of

#: Below this many validation objects, the validation scores are taken over their eight turns and mirrors.
SMALL_VALIDATION = 64

def pretrain_step(nets: DDRIDNetworks, opt, xb: torch.Tensor, precision: str = "fp32") -> dict:
    """One pretraining step (Eq. 1, 2) on batch ``xb``; returns the losses."""
    r_c, r_n = nets.r_c, nets.r_n
    with autocast(xb.device.type, precision):
        out_c, out_n = r_c(xb), r_n(xb)
    # Losses in fp32 (a no-op for fp32 outputs): sums over 1024 pixels lose digits in bf16.
    l_c = recon_error(out_c.float(), xb).mean()
    l_n = recon_error(out_n.float(), xb).mean()
    opt.zero_grad(set_to_none=True)
    (l_c + l_n).backward()
    opt.step()
    return {"R_C": l_c.item(), "R_N": l_n.item()}


#: "explain" profile: weight of the l1 energy of X_N on normal training patches (per patch, summed over
#: pixels, like L_R).  It makes R_C carry normal patches itself, as robust autoencoders do; see docs/method.md.
EXPLAIN_RESIDUAL_L1 = 1.0
#: "explain" profile: weight of ||X_C - X||^2, which keeps X_C close to the input on normal patches.
EXPLAIN_CLASS_RECON = 1.0
#: "explain" profile: weight of L_LSC (Eq. 4) in E_C's loss.  0: E_C learns from L_OC alone, as Deep SVDD's
#: bias-free encoder does.  Why: the adversary asks the codes to look like N(Z_C, sigma^2 I), which is
#: blind to class; once L_OC has pulled the normals in, it keeps moving them along directions that do
#: not separate classes.  MNIST class 5, 30 + 20 epochs: AS_l's AUC peaked at 0.79 after one finetuning
#: epoch and fell to 0.64 by epoch 20 with L_LSC (0.57 with Table 1's encoder); without it, it rose to
#: 0.82 and held (benchmarks/experiments/detection.md, section 7).  D_L is still trained and L_LSC
#: still reported: it says how far the codes are from that Gaussian, as a monitor.
EXPLAIN_LSC_WEIGHT = 0.0


def finetune_losses(x: torch.Tensor, z: torch.Tensor, z_c: torch.Tensor, enc_logits: torch.Tensor,
                    x_c: torch.Tensor, x_n: torch.Tensor, profile: str = "paper") -> dict:
    """The R_C/R_N finetuning losses of one batch, as tensors (``"total"`` is what is minimised).

    Parameters
    ----------
    x : Tensor (m, C, S, S)
        The preprocessed normal batch.
    z : Tensor (m, d)
        E_C(x).
    z_c : Tensor (d,)
        The fixed latent centre Z_C.
    enc_logits : Tensor (m,)
        D_L's logits for ``z``.
    x_c, x_n : Tensor (m, C, S, S)
        X_C = D_C(z) and X_N = R_N(x).
    profile : str
        ``"paper"``: L_OC + L_LSC + L_R (Eq. 3-6, Algorithm 1's simple sum).
        ``"explain"``: the same with L_LSC weighted by ``EXPLAIN_LSC_WEIGHT`` (0: reported,
        not minimised), plus ``EXPLAIN_RESIDUAL_L1 * ||X_N||_1`` and
        ``EXPLAIN_CLASS_RECON * ||X_C - X||^2`` (means over the batch).
    """
    losses = {
        "L_OC": ((z - z_c) ** 2).sum(1).mean(),                 # Eq. 3
        "L_LSC": F.logsigmoid(-enc_logits).mean(),             # Eq. 4, encoder's term: log(1 - D_L(E_C(X)))
        "L_R": recon_error(x_c + x_n, x).mean(),               # Eq. 5
    }
    lsc = EXPLAIN_LSC_WEIGHT if profile == "explain" else 1.0
    total = losses["L_OC"] + lsc * losses["L_LSC"] + losses["L_R"]  # Eq. 6 (lsc = 1)
    if profile == "explain":
        losses["L1_XN"] = x_n.abs().flatten(1).sum(1).mean()
        losses["L_XC"] = recon_error(x_c, x).mean()
        total = total + EXPLAIN_RESIDUAL_L1 * losses["L1_XN"] + EXPLAIN_CLASS_RECON * losses["L_XC"]
    elif profile != "paper":
        raise ValueError(f"unknown profile {profile!r}")
    losses["total"] = total
    return losses


def finetune_step(nets: DDRIDNetworks, opt_r, opt_d, xb: torch.Tensor, z_c: torch.Tensor,
                  latent_sigma: float, precision: str = "fp32", profile: str = "paper") -> dict:
    """One finetuning step (Algorithm 1): a D_L step, then an R_C/R_N step (losses of ``profile``)."""
    r_c, r_n, d_l = nets.r_c, nets.r_n, nets.d_l
    m = len(xb)
    z_fake = z_c + latent_sigma * torch.randn(m, z_c.numel(), device=xb.device)
    with autocast(xb.device.type, precision):
        z = r_c.encoder(xb).float()
        # D_L step: maximise log D(Z~N) + log(1 - D(E_C(X))).  Real and encoded
        # samples go through D_L as ONE batch: separate batches would let its
        # BatchNorm remove exactly the mean/scale differences it must detect.
        logits = d_l(torch.cat([z_fake, z.detach()])).float()
    l_d = -(F.logsigmoid(logits[:m]).mean() + F.logsigmoid(-logits[m:]).mean())
    opt_d.zero_grad(set_to_none=True)
    l_d.backward()
    opt_d.step()
    # R_C, R_N step: minimise L_OC + L_LSC + L_R (Algorithm 1, simple sum), plus the profile's terms.
    # Under "explain" the reconstruction terms reach R_C's decoder only: E_C learns from L_OC (L_LSC is
    # weighted by EXPLAIN_LSC_WEIGHT), as Deep SVDD's encoder does, and D_C learns to read that latent.
    # Letting ||X_C - X||^2 reach E_C made the latent keep each patch's details, which cost AS_l 9.8 AUC
    # points on MNIST on average (1.4-17.6 per class; benchmarks/experiments/detection.md).
    z_dec = z.detach() if profile == "explain" else z
    with autocast(xb.device.type, precision):
        logits = d_l(torch.cat([z_fake, z])).float()
        x_c, x_n = r_c.decoder(z_dec).float(), r_n(xb).float()
    losses = finetune_losses(xb, z, z_c, logits[m:], x_c, x_n, profile)
    opt_r.zero_grad(set_to_none=True)
    losses.pop("total").backward()
    opt_r.step()
    return {**{k: v.item() for k, v in losses.items()}, "D_L": l_d.item()}


def parameter_count(channels: int, input_size: int, latent_dim: int | None = None, with_copy: bool = False) -> int:
    """Weights of R_C, R_N and D_L together (and of R_C's pretrained copy with ``with_copy``), counted on
    torch's "meta" device (never allocated)."""
    from .networks import default_latent_dim

    with torch.device("meta"):
        nets = DDRIDNetworks(channels, latent_dim or default_latent_dim(channels), input_size)
    n = sum(p.numel() for p in nets.parameters())
    return n + sum(p.numel() for p in nets.r_c.parameters()) if with_copy else n


def memory_estimate(n_patches: int, channels: int, input_size: int, batch_size: int,
                    latent_dim: int | None = None) -> int:
    """About how many bytes training takes: weights with gradients and Adam moments (x4), the
    activations of one batch through both autoencoders (forward and backward), and the patches.

    The networks are built on torch's "meta" device: counted, never allocated.
    """
    params = parameter_count(channels, input_size, latent_dim)
    s = input_size
    # Encoder maps 64, 128, 256, 512 channels at s/2 .. s/16; the decoder mirrors them up to s.
    enc = sum(c * (s // 2**k) ** 2 for k, c in enumerate((64, 128, 256, 512), 1))
    dec = enc + channels * s * s + 64 * s * s // 4
    activations = batch_size * (enc + dec) * 4 * 3 * 2          # 3 tensors per layer (conv, BN, act), 2 nets
    data = n_patches * channels * s * s * 4 * 3                 # raw, preprocessed, on the device
    return int(params * 4 * 4 + activations + data)


def model_file_bytes(channels: int, input_size: int, latent_dim: int | None = None) -> int:
    """About how large the model file will be, at most: float32 weights of all three networks and of R_C's
    pretrained copy (which the explain profile keeps for X_C), plus a margin."""
    return 4 * parameter_count(channels, input_size, latent_dim, with_copy=True) + 2_000_000


def device_memory(device: str) -> int:
    """Bytes of memory ``device`` offers (free RAM for the CPU); 0 when unknown."""
    if device.startswith("cuda") and torch.cuda.is_available():
        try:
            free, _total = torch.cuda.mem_get_info(torch.device(device))
            return int(free)
        except Exception:  # noqa: BLE001 - an estimate only
            return 0
    from ..io.reading import available_memory

    return available_memory()


def check_memory(n_patches: int, channels: int, config: TrainConfig, device: str = "cpu",
                 batch_size: int | None = None) -> None:
    """Refuse, with one line, a training run that will not fit in the device's memory."""
    bs = batch_size or config.batch_size
    need = memory_estimate(n_patches, channels, config.input_size, bs, config.latent_dim)
    have = device_memory(device)
    if have and need > 0.9 * have:
        raise TrainingError(f"training needs about {need / 2**30:.1f} GiB (input size {config.input_size}, batch "
                            f"{bs}, {n_patches} patches) but {device} has {have / 2**30:.1f} GiB "
                            "free; lower --input-size or --batch-size")


def seed_everything(seed: int) -> np.random.Generator:
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


@dataclass
class _Run:
    """What the stages of one training run share: data, networks, step count, clock."""

    config: TrainConfig
    device: str
    rng: np.random.Generator
    nets: DDRIDNetworks
    x_train: torch.Tensor          # preprocessed training subset, on the device
    batch_size: int
    steps_per_epoch: int
    total_steps: int
    clock: Clock = field(default_factory=Clock)
    done: int = 0
    # One process, or this rank's part of a torchrun run (ranks.py): its share of each batch, and more.
    ranks: process_ranks.Ranks = field(default_factory=process_ranks.Ranks)
    augment: bool = False          # random turns and mirrors of each batch (object sources)

    def progress(self, stage: str, epoch: int = 0, epochs: int = 0, step: int = 0, losses=None,
                 message: str = "") -> Progress:
        frac = self.done / self.total_steps if self.total_steps else 1.0
        return Progress(stage, step=step, steps=self.steps_per_epoch, epoch=epoch, epochs=epochs, overall=frac,
                        losses=losses or {}, elapsed=self.clock.elapsed(), eta=self.clock.eta(frac), message=message)

    def epochs(self, stage: str, n_epochs: int, step_fn, schedulers) -> Job[None]:
        """Run ``n_epochs`` epochs of ``step_fn(batch) -> losses``, yielding after every step."""
        for epoch in range(1, n_epochs + 1):
            for step, idx in enumerate(batches(len(self.x_train), self.batch_size, self.rng), 1):
                mine = self.ranks.local(idx)
                if mine is None:      # a last batch too small to share between the ranks
                    continue
                batch = self.x_train[mine]
                if self.augment:
                    batch = dihedral(batch, self.rng)
                losses = self.ranks.average(step_fn(batch))
                self.done += 1
                check_finite(losses, stage, epoch)
                yield self.progress(stage, epoch, n_epochs, step, losses)
            # Step the schedules after the optimisers, once per epoch (milestones are in epochs).
            for sched in schedulers:
                sched.step()


def _adam(params, config: TrainConfig):
    params = list(params)
    # The fused kernel is the same update (Adam with L2 weight decay) in one pass over each tensor: on the
    # demo's 13 M parameters it took a third of the per-tensor loop's time on 2 CPU cores (results agree
    # to the last bits of float32, not bit for bit).  CPU and CUDA have it; other devices keep the loop.
    fused = bool(params) and all(p.device.type in ("cpu", "cuda") for p in params)
    try:
        opt = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, fused=fused or None)
    except (RuntimeError, ValueError):
        # Older torch releases (ddrid allows torch >= 2.1) have no fused Adam on the CPU: the loop then.
        opt = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return opt, torch.optim.lr_scheduler.MultiStepLR(opt, [config.lr_milestone], config.lr_gamma)


def _pretrain(run: _Run) -> Job[None]:
    """Eq. 1, 2: both autoencoders learn to reconstruct the normal patches."""
    r_c, r_n = run.nets.r_c, run.nets.r_n
    # One Adam over both networks is the same as two: the losses share no parameters.
    opt, sched = _adam([*r_c.parameters(), *r_n.parameters()], run.config)
    r_c.train()
    r_n.train()
    yield from run.epochs("pretrain", run.config.pretrain_epochs,
                          lambda xb: pretrain_step(run.nets, opt, xb, run.config.precision), [sched])


def _center(run: _Run) -> Job[torch.Tensor]:
    """Z_C: the mean latent of the training subset under E_C (after BatchNorm re-estimation)."""
    r_c = run.nets.r_c
    if run.config.recalibrate_batchnorm:
        run.ranks.recalibrate([r_c, run.nets.r_n], run.x_train, run.batch_size)
    r_c.eval()
    z_c = run.ranks.mean_rows(r_c.encoder, run.x_train)
    if not torch.isfinite(z_c).all():
        raise TrainingError("training stopped: the latent centre Z_C is not finite; no model was saved")
    yield run.progress("center", message="computed Z_C")
    return z_c


def pretrained_view(nets) -> "torch.nn.Module":
    """A plain copy of R_C as it is now (after pretraining), frozen, for X_C and AS_e.

    Built afresh and loaded from R_C's weights, so a copy taken from networks wrapped for several
    processes (DistributedDataParallel, SyncBatchNorm: the same names under ``.module.``) is plain too.
    """
    from .networks import class_autoencoder

    r_c = nets.r_c
    with torch.random.fork_rng(devices=[]):       # building it draws nothing from training's stream
        view = class_autoencoder(nets.channels, nets.latent_dim, nets.input_size, nets.class_encoder)
    view.load_state_dict({k.replace(".module.", "."): v.detach().clone() for k, v in r_c.state_dict().items()})
    view.to(next(r_c.parameters()).device).eval()
    for p in view.parameters():
        p.requires_grad_(False)
    return view


def _finetune(run: _Run, z_c: torch.Tensor) -> Job[None]:
    """Eq. 6: L_OC + L_LSC + L_R (plus the profile's terms) for R_C and R_N, D_L adversarial; Z_C fixed."""
    nets, cfg = run.nets, run.config
    opt_r, sched_r = _adam([*nets.r_c.parameters(), *nets.r_n.parameters()], cfg)
    opt_d, sched_d = _adam(nets.d_l.parameters(), cfg)
    nets.train()
    yield from run.epochs("finetune", cfg.finetune_epochs,
                          lambda xb: finetune_step(nets, opt_r, opt_d, xb, z_c, cfg.latent_sigma, cfg.precision,
                                                   cfg.profile),
                          [sched_r, sched_d])


def _calibrate(run: _Run, model: DDRIDModel, x_val: np.ndarray, raw_val: np.ndarray) -> Job[None]:
    """The score choice (Algorithm 2 under "paper", AS_c under "explain"), the default threshold and the
    quality check, on the validation subset."""
    from .combined import RESIDUAL_MARGIN
    from .quality import check as quality_check, score_synthetic, synthetic_auc_by_score

    cfg = run.config
    val = yield from score_preprocessed(model, x_val, batch_size=256)
    if not (np.isfinite(val.latent).all() and np.isfinite(val.recon).all() and np.isfinite(val.residual).all()):
        raise TrainingError("training stopped: validation scores are not finite; no model was saved")
    model.validation_scores = {"latent": val.latent.astype(np.float32), "recon": val.recon.astype(np.float32),
                               "residual": val.residual.astype(np.float32)}
    # AS_c is standardised on these validation normals, so it exists only now (for every profile).
    val.combined = validation_scores_of(model, "combined").astype(np.float32)
    model.validation_scores["combined"] = val.combined
    by_score = scored = None
    if cfg.profile == "paper":
        model.score_type = select_score_type(val.latent, val.recon)     # Algorithm 2
        rule = "Algorithm 2 (lower validation mean of AS_l, AS_r)"
    else:
        model.score_type = "combined"
        rule = (f"the explain profile (AS_l unless the residual peak AS_e stands out by more than "
                f"{RESIDUAL_MARGIN:g} SD of the validation normals)")
        # Recorded for the model's report: how each score separates synthetic anomalies made from
        # the validation normals (the quality check below reuses this pass).
        yield run.progress("quality", message="scoring synthetic anomalies")
        scored = score_synthetic(model, raw_val, cfg.seed)
        by_score = synthetic_auc_by_score(model, raw_val, cfg.seed, scored)
    # `val` was scored before the choice: take the chosen score explicitly.
    val.score_type = model.score_type
    model.threshold = default_threshold(val.score, cfg.threshold_quantile)
    model.validation = {
        "n": int(len(x_val)),
        "mean_latent": float(val.latent.mean()),
        "mean_recon": float(val.recon.mean()),
        "mean_residual": float(val.residual.mean()),
        "score_rule": rule,
        "threshold_rule": f"quantile {cfg.threshold_quantile} of validation {model.score_type} scores",
    }
    if by_score is not None:
        model.validation["synthetic_auc_by_score"] = by_score
    # Quality check without labelled anomalies: synthetic anomalies made from the validation subset.
    yield run.progress("quality", message="quality check on synthetic anomalies")
    model.validation.update(quality_check(model, raw_val, cfg.seed, scored))


def _fit_measurements(model: DDRIDModel, sources, train_idx, val_idx, views: int = 1) -> None:
    """Keep the normal objects' measurements and rank by AS_cell (explain profile), where every object has them.

    The measurements of *all* given normals (training and validation) are
    kept: AS_m needs no training, and with 100-200 objects every one counts.
    Its scale on normals comes from each object scored against the others
    (leave one out), so it rests on all of them, not on the validation few.
    """
    from .cellscore import MeasureModel, cell_parts_text, cell_score, feature_matrix, has_features, page_reference
    from .combined import calibration

    # Intensities against each object's page, or the training pages' reference where a page says nothing
    # (a page model never reads raw); raw if no training page says anything.
    reference = page_reference(sources) if model.config.measure_intensity == "page" else None
    features = feature_matrix(sources, reference is not None, reference)
    if not has_features(features) or len(features) < 3 or len(val_idx) < 1:
        return
    model.measure = MeasureModel.fit(features)
    model.measure.reference = reference
    # The validation objects' AS_m (each against the other normals, repeated for its views as AS_c was
    # scored), paired with their other scores; AS_m's scale itself rests on every normal (the calibration).
    val_measure = np.tile(model.measure.score_left_out()[np.asarray(val_idx)], views)
    model.validation_scores["measure"] = val_measure.astype(np.float32)
    v = model.validation_scores
    cell = cell_score(v["latent"], v["residual"], val_measure, calibration(v), model.measure.calibration,
                      model.config.cell_rule)
    model.validation_scores["cell"] = cell.astype(np.float32)
    if model.config.profile == "explain":
        model.score_type = "cell"
        model.threshold = default_threshold(cell, model.config.threshold_quantile)
        model.validation["score_rule"] = (f"AS_cell: {cell_parts_text(model.config.cell_rule)}, each on the "
                                          "normals' scale, in equal parts")
        model.validation["threshold_rule"] = (f"quantile {model.config.threshold_quantile} of validation cell "
                                              "scores")


def _check_patches(raw: np.ndarray, config: TrainConfig) -> None:
    if raw.ndim != 4 or raw.shape[-1] != config.input_size or raw.shape[-2] != config.input_size:
        raise ValueError(f"training patches must be (N, C, {config.input_size}, {config.input_size}), got {raw.shape}")
    if len(raw) < MIN_PATCHES:
        raise TrainingError(f"need at least {MIN_PATCHES} normal patches to train, got {len(raw)}; mark more patches as normal")
    if not np.isfinite(raw).all():
        raise TrainingError("training patches contain NaN or infinite values")


def _networks(channels: int, config: TrainConfig) -> DDRIDNetworks:
    """Table 1's networks; under "explain" with DCGAN's output-layer initialisation (no saturated X_C at start)."""
    nets = DDRIDNetworks(channels, config.latent_dim, config.input_size, config.encoder_form())
    if config.profile == "explain":
        init_output_layers(nets)
    return nets


def train(patches: PatchSet | np.ndarray, config: TrainConfig | None = None) -> Job[DDRIDModel]:
    """Train DDR-ID on normal patches (raw, native intensity, (N, C, S, S)): Algorithm 1, then Algorithm 2."""
    config = config or TrainConfig()
    config.validate()
    if isinstance(patches, PatchSet) and config.border == "flag":
        # Flagged border objects are scored, never learnt from: half a nucleus is not a normal nucleus.
        keep = [i for i, s in enumerate(patches.sources) if not s.touches_border]
        if len(keep) >= MIN_PATCHES:
            patches = patches.subset(keep)
    raw = patches.images if isinstance(patches, PatchSet) else np.asarray(patches, np.float32)
    _check_patches(raw, config)

    ranks = process_ranks.current()
    device = ranks.device(select_device(config.device))
    rng = seed_everything(config.seed)
    train_idx, val_idx = split_indices(len(raw), config.val_fraction, rng)
    n_train = len(train_idx)
    if n_train < 2 * ranks.world:
        raise TrainingError(f"{n_train} training patches cannot be shared by {ranks.world} processes; "
                            f"give at least {2 * ranks.world} or use fewer processes")
    bs = ranks.batch_size(effective_batch_size(n_train, config.batch_size, config.min_steps_per_epoch))
    check_memory(len(raw), raw.shape[1], config, device, bs)
    pre = Preprocessor.fit(raw[train_idx])
    spe = ranks.steps_per_epoch(n_train, bs)
    nets = ranks.wrap(_networks(raw.shape[1], config).to(device))
    ranks.seed(config.seed)
    run = _Run(config=config, device=device, rng=rng, nets=nets,
               x_train=to_tensor(pre(raw[train_idx]), device), batch_size=bs, steps_per_epoch=spe,
               total_steps=spe * (config.pretrain_epochs + config.finetune_epochs), ranks=ranks,
               augment=config.augment and config.objects != "grid")
    on = f", {ranks.world} processes" if ranks.world > 1 else ""
    yield run.progress("prepare", message=f"{n_train} training / {len(val_idx)} validation patches, batch {bs}, "
                                          f"{device}{on}")

    yield from _pretrain(run)
    z_c = yield from _center(run)
    view = pretrained_view(run.nets) if config.x_c_from() == "pretrained" else None
    yield from _finetune(run, z_c)
    # BatchNorm statistics re-estimated once more, for scoring (see batchnorm.py).
    if config.recalibrate_batchnorm:
        ranks.recalibrate([run.nets.r_c, run.nets.r_n], run.x_train, bs)
    run.nets = ranks.unwrap(run.nets)
    run.nets.eval()
    model = DDRIDModel(nets=run.nets, z_c=z_c.detach(), preprocessor=pre, config=config, device=device, view=view)
    x_val = pre(raw[val_idx])
    views = 1
    if run.augment and len(val_idx) < SMALL_VALIDATION:
        # A few dozen validation objects give a shaky mean and spread for AS_c's scale and the threshold;
        # their eight turns and mirrors (all normal objects) steady them.
        x_val, views = dihedral_views(x_val), 8
    yield from _calibrate(run, model, x_val, raw[val_idx])
    if isinstance(patches, PatchSet):
        _fit_measurements(model, patches.sources, train_idx, val_idx, views)
        if model.measure is not None:
            from .cellquality import check_cells

            yield run.progress("quality", message="quality check on odd cells made from the validation objects")
            model.validation.update(check_cells(model, raw[val_idx], [patches.sources[i].size for i in val_idx],
                                                config.seed, [patches.sources[i].against_page for i in val_idx]))
    model.training = {
        "n_train": int(n_train),
        "n_val": int(len(val_idx)),
        # Which of the given patches (their positions in the input) were the validation subset;
        # every other one was trained on.  The GUI shows these roles; plain ints in the model file.
        "val_indices": [int(i) for i in val_idx],
        "batch_size_used": int(bs),
        "steps_per_epoch": int(spe),
        "steps": int(run.total_steps),
        "seconds": round(run.clock.elapsed(), 2),
        "device": device,
        **ranks.describe(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    run.done = run.total_steps
    yield run.progress("done", message=f"chose {model.score_type} score; threshold {model.threshold:.4g}")
    return model
