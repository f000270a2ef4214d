"""The Train panel offers the training profile; the choice reaches TrainConfig and the project file."""
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from ddrid_gui.views.training_panel import TrainingPanel  # noqa: E402
from ddrcore.config import PROFILES, TrainConfig  # noqa: E402

pytestmark = pytest.mark.gui


def test_profile_combo_offers_every_profile_and_starts_at_the_default(qtbot):
    p = TrainingPanel([("cpu", "CPU")])
    qtbot.addWidget(p)
    box = p.findChild(type(p.profile), "profileCombo")
    assert box is p.profile
    assert sorted(box.itemData(i) for i in range(box.count())) == sorted(PROFILES)
    assert p.config().profile == TrainConfig().profile


def test_profile_choice_round_trips_through_the_settings(qtbot):
    p = TrainingPanel([("cpu", "CPU")])
    qtbot.addWidget(p)
    other = next(v for v in PROFILES if v != TrainConfig().profile)
    p.profile.setCurrentIndex(p.profile.findData(other))
    assert p.config().profile == other
    saved = p.settings()
    assert saved["profile"] == other
    q = TrainingPanel([("cpu", "CPU")])
    qtbot.addWidget(q)
    q.apply_settings({**saved, "profile": "not-a-profile"})     # an unknown value keeps the current choice
    assert q.config().profile == TrainConfig().profile
    q.apply_settings(saved)
    assert q.config().profile == other
    p.set_running(True)
    assert not p.profile.isEnabled()
