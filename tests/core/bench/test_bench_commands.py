"""`ddrid bench`: JSON schema of accuracy on tiny data (1 epoch), speed fields. No timing assertions."""
import json

import pytest

from ddrcore.cli import main
from synthetic import make_idx_folder


@pytest.mark.slow   # trains DDR-ID and the baselines on a tiny data set
def test_bench_accuracy_json(tmp_path, capsys):
    data = make_idx_folder(tmp_path / "idx", n_train=12, n_test=9, side=28)
    out = tmp_path / "res" / "acc.json"
    rc = main(["--quiet", "bench", "accuracy", "--data", str(data), "--classes", "1",
               "--methods", "ddrid,deepsvdd,softsvdd,dcae", "--pretrain-epochs", "1", "--finetune-epochs", "1",
               "--batch-size", "4", "--device", "cpu", "--json", str(out)])
    assert rc == 0
    r = json.loads(out.read_text())
    for key in ("dataset", "protocol", "command", "hardware", "seconds", "results"):
        assert key in r
    assert r["protocol"] == "quick" and r["complete"] is True
    assert r["command"].startswith("ddrid --quiet bench accuracy --data ")   # the call's argv, not pytest's
    assert set(r["results"]) == {"ddrid", "deepsvdd", "softsvdd", "dcae"}
    for per in r["results"].values():
        assert set(per) == {"1"} and all(0 <= v <= 1 for v in per.values())
    abl = r["ddrid_ablation"]
    assert set(abl["auc"]) == {"AS_l", "AS_r", "AS_e", "AS_c", "AS_l+AS_r", "AS_l+AS_r (z, val)",
                               "synthetic choice", "selected"}
    assert set(abl["synthetic_pick"]["1"]) <= {"latent", "recon", "residual"}
    from ddrcore.config import TrainConfig
    assert r["settings"]["profile"] == TrainConfig().profile       # the engine's default profile
    assert r["settings"]["x_c_source"] == TrainConfig().x_c_from()  # resolved, never left as null
    assert 0 <= abl["picked_worse_total"] <= abl["runs"] == 1
    assert out.with_suffix(".md").exists()
    assert (tmp_path / "res" / "acc-roc-mean.png").exists()
    assert (tmp_path / "res" / "acc-extremes-ddrid.png").exists()
    assert "mean" in capsys.readouterr().out


def test_bench_accuracy_bad_input(tmp_path):
    assert main(["bench", "accuracy", "--data", str(tmp_path / "nope"), "--json", str(tmp_path / "a.json")]) == 1
    data = make_idx_folder(tmp_path / "idx", n_train=9, n_test=6)
    assert main(["bench", "accuracy", "--data", str(data), "--methods", "svm", "--json", str(tmp_path / "a.json")]) == 1


@pytest.mark.slow   # times training and scoring steps
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_bench_speed_fields(tmp_path, precision):
    out = tmp_path / "speed.json"
    assert main(["bench", "speed", "--device", "cpu", "--batch-size", "4", "--repeats", "1",
                 "--precision", precision, "--matmul-size", "64", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    for key in ("train_images_per_s", "score_patches_per_s", "train_gflops", "peak_gflops", "device",
                "precision", "threads"):
        assert key in r
    assert r["precision"] == precision and r["train_gflops"] > 0 and r["peak_gflops"] > 0
