import pickle

import numpy as np
import pytest
import torch

from ddrcore.model import modelfile
from ddrcore.errors import ModelFileError
from ddrcore.progress import run_to_end
from ddrcore.model.scoring import score_patches
from synthetic import blob_patch, ring_patch


def test_round_trip_gives_identical_scores(tiny_model, tmp_path, rng):
    path = modelfile.save(tiny_model, tmp_path / "m.ddrid")
    loaded = modelfile.load(path, "cpu")
    x = np.stack([ring_patch(rng), blob_patch(rng), ring_patch(rng)]).astype(np.float32)[:, None]
    a = run_to_end(score_patches(tiny_model, x))
    b = run_to_end(score_patches(loaded, x))
    np.testing.assert_array_equal(a.latent, b.latent)
    np.testing.assert_array_equal(a.recon, b.recon)
    assert loaded.score_type == tiny_model.score_type
    assert loaded.threshold == tiny_model.threshold
    assert loaded.config.seed == 3
    assert loaded.preprocessor == tiny_model.preprocessor
    assert [p.name for p in tmp_path.iterdir()] == ["m.ddrid"]  # no temp file left


def test_file_is_plain_data(tiny_model, tmp_path):
    path = modelfile.save(tiny_model, tmp_path / "m.ddrid")
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == "ddrid-model" and payload["version"] == modelfile.VERSION
    assert {"seed", "pretrain_epochs"} <= set(payload["config"])
    assert {"minimum", "maximum"} <= set(payload["preprocess"])


class Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > /tmp/ddrid_pwned",))


def test_forged_file_with_code_is_refused(tmp_path):
    p = tmp_path / "evil.ddrid"
    torch.save({"format": "ddrid-model", "version": 1, "x": Evil()}, p)
    with pytest.raises(ModelFileError, match="refused"):
        modelfile.load(p)
    p2 = tmp_path / "evil2.ddrid"
    p2.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ModelFileError):
        modelfile.load(p2)


def test_corrupt_and_foreign_files(tiny_model, tmp_path):
    good = modelfile.save(tiny_model, tmp_path / "m.ddrid")
    bad = tmp_path / "trunc.ddrid"
    bad.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(ModelFileError, match="trunc.ddrid"):
        modelfile.load(bad)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ModelFileError, match="not a ddrid model"):
        modelfile.load(other)
    with pytest.raises(ModelFileError, match="no such"):
        modelfile.load(tmp_path / "missing.ddrid")


def test_a_weight_damaged_in_a_copy_is_refused_by_its_checksum(tiny_model, tmp_path):
    # One flipped sign bit in the weights: the archive's checksum says so (torch alone loaded it silently).
    import zipfile

    good = modelfile.save(tiny_model, tmp_path / "m.ddrid")
    raw = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:
        part = max((i for i in zf.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    h = part.header_offset          # the local header's own name and extra lengths (torch pads the latter)
    start = h + 30 + int.from_bytes(raw[h + 26:h + 28], "little") + int.from_bytes(raw[h + 28:h + 30], "little")
    raw[start + 3] ^= 0x80
    bad = tmp_path / "flipped.ddrid"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="checksum"):
        modelfile.load(bad, "cpu")
    modelfile.load(good, "cpu")
    # One bit in the archive's directory (a part said to be compressed): zlib's error, not a traceback.
    raw = bytearray(good.read_bytes())
    central = raw.index(b"PK\x01\x02")
    raw[central + 10] = 8
    bad.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="flipped.ddrid"):
        modelfile.load(bad, "cpu")


def test_a_model_saved_with_torchs_checksums_turned_off_still_loads(tiny_model, tmp_path):
    # Loading checks every part's checksum: a file saved with none would be refused as damaged.
    # (Set and restored by hand: torch's config object does not survive monkeypatch's undo.)
    config = torch.utils.serialization.config.save
    config.compute_crc32 = False
    try:
        modelfile.load(modelfile.save(tiny_model, tmp_path / "m.ddrid"), "cpu")
        assert config.compute_crc32 is False          # the setting is left as it was
    finally:
        config.compute_crc32 = True


def test_wrong_version_and_damaged_fields(tiny_model, tmp_path):
    payload = modelfile.to_payload(tiny_model)
    payload["version"] = 99
    p = tmp_path / "v99.ddrid"
    torch.save(payload, p)
    with pytest.raises(ModelFileError, match="version 99"):
        modelfile.load(p)
    payload = modelfile.to_payload(tiny_model)
    payload["state"]["r_c"].popitem()
    p = tmp_path / "damaged.ddrid"
    torch.save(payload, p)
    with pytest.raises(ModelFileError, match="damaged"):
        modelfile.load(p)


@pytest.mark.parametrize("field,value,words", [
    ("cell_warning", "\x1b[2J\x1b[31mPWNED\nsecond line", "control characters"),
    ("threshold_rule", "quantile 0.95\rforged", "control characters"),
    ("synthetic_auc", "high", "AUC between 0 and 1"),
    ("cell_auc", 7.0, "AUC between 0 and 1"),
])
def test_texts_shown_to_users_hold_no_escapes_and_aucs_are_aucs(tiny_model, tmp_path, field, value, words):
    payload = modelfile.to_payload(tiny_model)
    payload["validation"][field] = value
    p = tmp_path / "forged.ddrid"
    torch.save(payload, p)
    with pytest.raises(ModelFileError, match=f"validation.{field}.*{words}"):
        modelfile.load(p)


def test_validation_scores_survive_the_round_trip(tiny_model, tmp_path):
    loaded = modelfile.load(modelfile.save(tiny_model, tmp_path / "m.ddrid"), "cpu")
    for key in ("latent", "recon"):
        np.testing.assert_array_equal(loaded.validation_scores[key], tiny_model.validation_scores[key])


def test_save_failure_is_a_clear_error(tiny_model, tmp_path, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(ModelFileError, match="could not write"):
        modelfile.save(tiny_model, tmp_path / "m.ddrid")
    assert list(tmp_path.iterdir()) == []


def test_forged_config_values_are_refused(tiny_model, tmp_path):
    payload = modelfile.to_payload(tiny_model)
    payload["config"]["batch_size"] = -5
    p = tmp_path / "forged.ddrid"
    torch.save(payload, p)
    with pytest.raises(ModelFileError, match="damaged"):
        modelfile.load(p)
    payload = modelfile.to_payload(tiny_model)
    payload["validation"] = 7
    torch.save(payload, p)
    with pytest.raises(ModelFileError):
        modelfile.load(p)


def test_incompatibility_names_what_differs(tiny_model):
    # tiny_model: 32 px grey patches, one channel.
    assert tiny_model.incompatibility(32, None, 1) is None
    why = tiny_model.incompatibility(48, None)
    assert "32 px" in why and "48 px" in why
    assert "channel" in tiny_model.incompatibility(32, 1)
    assert "3 channels" not in tiny_model.incompatibility(32, None, 3) and "1-channel" in \
        tiny_model.incompatibility(32, None, 3)
