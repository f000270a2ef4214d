"""Plain-language meanings of the terms the app shows (tooltips and Help ▸ What do these mean?)."""
from __future__ import annotations

#: term -> one or two sentences; the tooltips use the same texts as the help page.
TERMS = {
    "AS_l": "Latent anomaly score, ‖E_C(X) − Z_C‖²: how far the patch's code lies from the centre of the normal "
            "patches' codes. Higher = less like the patches marked normal.",
    "AS_r": "Image anomaly score, ‖R_C(X) − D_C(Z_C)‖²: how far the patch's normal-class reconstruction is from "
            "the typical normal patch. Higher = less like the patches marked normal.",
    "chosen score": "Training picks AS_l or AS_r (\"AS_l chosen\"): the one with the lower mean on the held-out "
                    "validation normals (the paper's Algorithm 2). The patches are ranked by it.",
    "X_C": "Class-specific component R_C(X): the part of the patch the model explains as normal structure.",
    "X_N": "Residual component R_N(X): what is left over (noise, background, and often the anomaly itself).",
    "residual heat": "Where the patch departs from normal: the residual X_N, lightly smoothed, laid over the input "
                     "in colour (transparent = nothing unusual, red = most unusual).",
    "threshold": "Patches scoring at or above it are flagged. The model's default is the 95th percentile of the "
                 "validation normals' scores, so about 5 % of normal patches are expected above it. Drag the "
                 "slider to change it.",
    "image units": "Intensities as in the image file. The model works on normalised patches (mean subtracted, "
                   "divided by the mean absolute deviation, scaled to the training set's range); the Detail view "
                   "maps X_C and X_N back, so X_C + X_N is the model's reconstruction in the image's own units.",
    "roles": "train: the model learnt from it; validation: held out to set the threshold and check quality; "
             "normal: marked normal after training (not used); unmarked; excluded. Results leave out train and "
             "validation patches unless \"Include training patches\" is ticked.",
    "quality check": "After training, synthetic anomalies (a pasted bright spot, a locally shuffled square, a "
                     "flipped half) are made from the validation patches and scored. AUC 1.0 = all ranked above "
                     "the normals, 0.5 = chance. Near chance means the model has not learnt the normal class: "
                     "train longer or mark more normals.",
    "losses": "R_C, R_N: reconstruction errors in pretraining. L_R: reconstruction error of X_C + X_N. L_OC: "
              "distance of the codes from Z_C. L_LSC and D_L: the encoder and the latent discriminator pulling "
              "against each other (these need not fall; under the explain profile L_LSC is only watched, the "
              "encoder learns from L_OC alone).",
}


def tip(*terms: str) -> str:
    """Tooltip text for one or more terms."""
    return "\n\n".join(f"{t}: {TERMS[t]}" for t in terms)


def html() -> str:
    """The help page."""
    rows = "".join(f"<tr><td valign=top><b>{t}</b></td><td>{text}</td></tr>" for t, text in TERMS.items())
    return f"<h3>What do these mean?</h3><table cellspacing=6>{rows}</table>"
