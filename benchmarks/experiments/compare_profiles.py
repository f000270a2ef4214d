"""Put a `ddrid bench accuracy` run of one profile beside the committed paper-profile run (issue #9).

    python benchmarks/experiments/compare_profiles.py NEW.json PAPER.json OUT.md

Both runs must use the same data set, protocol, classes and seed (checked); Deep SVDD's
numbers come from the paper-profile run (the baselines do not depend on DDR-ID's profile).
"""
import json
import sys

import numpy as np


def main(new_path, paper_path, out_path):
    new, old = json.load(open(new_path)), json.load(open(paper_path))
    for key in ("protocol", "test_protocol"):
        if new[key] != old[key]:
            raise SystemExit(f"{key} differs: {new[key]} vs {old[key]}")
    for key in ("max_train", "ddrid_pretrain_epochs", "ddrid_finetune_epochs", "ddrid_batch_size", "seed"):
        if new["settings"][key] != old["settings"][key]:
            raise SystemExit(f"settings.{key} differs")
    prof = new["settings"].get("profile", "paper")
    classes = [c for c in new["classes"] if c in new["results"]["ddrid"]]
    na, oa = new["ddrid_ablation"], old["ddrid_ablation"]
    svdd = old["results"].get("deepsvdd", {})
    rows = [f"# DDR-ID profile `{prof}` vs `paper` — {new['dataset']} ({new['protocol']} protocol)", "",
            f"- {prof}: `{new['command']}` ({new['seconds'] / 60:.1f} min, complete: {new['complete']})",
            f"- paper: `{old['command']}` ({old['seconds'] / 60:.1f} min)",
            "- Deep SVDD: from the paper-profile run (same split, seed and test set; its schedule "
            f"{old['settings']['base_pretrain_epochs']} + {old['settings']['base_finetune_epochs']} epochs, as the "
            "quick protocol gives every baseline)", "",
            "AUC in %. 'selected' is each profile's default score (paper: Algorithm 2; "
            f"{prof}: best AUC on synthetic anomalies).", "",
            f"| class | {prof} selected | {prof} AS_l | {prof} AS_e | {prof} z(AS_l)+z(AS_r) | {prof} picked "
            "| paper selected | paper AS_l | paper AS_l+AS_r (z, val) | Deep SVDD |",
            "|---" * 11 + "|"]
    cols = {k: [] for k in ("ns", "nl", "ne", "nz", "os", "ol", "oz", "sv")}
    for c in classes:
        v = dict(ns=na["auc"]["selected"][c], nl=na["auc"]["AS_l"][c], ne=na["auc"]["AS_e"][c],
                 nz=na["auc"]["AS_l+AS_r (z, val)"][c], os=oa["auc"]["selected"][c], ol=oa["auc"]["AS_l"][c],
                 oz=oa["auc"]["AS_l+AS_r (z, val)"][c], sv=svdd.get(c, float("nan")))
        for k, x in v.items():
            cols[k].append(x)
        rows.append(f"| {c} | {100 * v['ns']:.1f} | {100 * v['nl']:.1f} | {100 * v['ne']:.1f} | {100 * v['nz']:.1f} "
                    f"| {', '.join(na['picked'][c])} | {100 * v['os']:.1f} | {100 * v['ol']:.1f} | {100 * v['oz']:.1f} "
                    f"| {100 * v['sv']:.1f} |")
    m = {k: 100 * float(np.mean(x)) for k, x in cols.items()}
    rows.append(f"| **mean** | **{m['ns']:.1f}** | {m['nl']:.1f} | {m['ne']:.1f} | {m['nz']:.1f} | | **{m['os']:.1f}** "
                f"| {m['ol']:.1f} | {m['oz']:.1f} | **{m['sv']:.1f}** |")
    worst = min(cols["ns"])
    floor = " and no class below 70" if "mnist" in new["dataset"].lower() else ""
    rows += ["", f"Target (issue #9) for the default profile: mean >= Deep SVDD ({m['sv']:.1f}){floor}.  "
                 f"`{prof}`: mean {m['ns']:.1f}, lowest class {100 * worst:.1f}.  "
                 f"`paper`: mean {m['os']:.1f}, lowest class {100 * min(cols['os']):.1f}.", ""]
    open(out_path, "w").write("\n".join(rows))
    print("\n".join(rows))


if __name__ == "__main__":
    main(*sys.argv[1:])
