"""Plain-language meanings of the terms the app shows (tooltips and Help ▸ What do these mean?)."""
from __future__ import annotations

#: term -> one or two sentences; the tooltips use the same texts as the help page.
TERMS = {
    "AS_l": "Latent anomaly score: how far the patch's summary code lies from the centre of the normal patches' "
            "codes. Higher = less like the patches marked normal. (In the paper's notation ‖E_C(X) − Z_C‖².)",
    "AS_r": "Image anomaly score: how far the patch's normal-looking part is from the typical normal patch. "
            "Higher = less like the patches marked normal. (In the paper's notation ‖R_C(X) − D_C(Z_C)‖².)",
    "AS_e": "Residual peak: the highest point of the smoothed squared difference between the patch and X_C. High "
            "where one spot is something the normal part cannot reproduce; the heat layer shows where.",
    "AS_c": "Tiles and points (explain profile): AS_l, unless the residual peak AS_e stands out more, each on the "
            "validation normals' scale.",
    "AS_m": "Measurements score: how unlike the normal objects the object measures (size, shape, brightness, "
            "texture), as the mean distance to its 5 nearest normal objects.",
    "AS_cell": "Objects with an outline (explain profile): AS_e and AS_m together, each on the validation normals' "
               "scale, so an object is odd because it looks or measures unlike the normals. Older model files add AS_l "
               "too (they still score as they did).",
    "chosen score": "The score the patches are ranked by. Explain profile: AS_cell for objects with an outline, AS_c "
                    "for tiles and points. Paper profile: AS_l or AS_r, the one with the lower mean on the held-out "
                    "validation normals (the paper's Algorithm 2).",
    "X_C": "Class-specific component R_C(X): the part of the patch the model explains as normal structure.",
    "X_N": "Residual component R_N(X): what is left over (noise, background, and often the anomaly itself).",
    "residual heat": "Where the patch departs from normal, lightly smoothed and laid over the input in colour "
                     "(transparent = nothing unusual, red = most unusual): input minus X_C under the explain profile, "
                     "the residual X_N under the paper profile.",
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
                     "flipped half) are made from the validation patches and scored; for objects with an outline, "
                     "odd cells too (condensed, fragmented, hollow, with a micronucleus, textured). AUC 1.0 = all "
                     "ranked above the normals, 0.5 = chance. Below 0.8 the model is weak: train longer or mark "
                     "more normals. It tells roughly how well real odd cells will rank, not exactly.",
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
