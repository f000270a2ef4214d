"""Files other tools write, named and laid out as those tools do: label images, masks, points tables."""
import csv

import numpy as np
import pytest
import tifffile

from ddrcore.cli import main
from ddrcore.errors import DdridError
from ddrcore.io.images import find_images, load_patches
from ddrcore.objects import Patching, find_label_image, read_points
from ddrcore.objects.labels import is_not_data
from ddrcore.objects.synthetic import make_field
from ddrcore.progress import run_to_end


def load(paths, **kw):
    return run_to_end(load_patches(paths, **kw))


def field(seed=3, n=5):
    return make_field((96, 96), ("blob",), n=n, size=14, seed=seed)


def rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------------ labels --
@pytest.mark.parametrize("name", ["X-labels.tif", "X_labels.tif", "X_label.tif", "X_masks.tif", "X_cp_masks.png",
                                  "X_Object Identities.tif", "X-lbl.tif", "X-mask.tif", "X_mask.tif"])
def test_a_label_image_by_any_common_name_gives_one_object_per_label(tmp_path, name):
    f = field()
    tifffile.imwrite(tmp_path / "X.tif", f.image)
    lab = f.labels.astype(np.uint16)
    if name.endswith(".png"):
        __import__("imageio").v3.imwrite(tmp_path / name, lab)
    else:
        tifffile.imwrite(tmp_path / name, lab)
    assert [p.name for p in find_images(tmp_path)] == ["X.tif"]
    assert find_label_image(tmp_path / "X.tif").name == name
    ps = load(tmp_path, patching=Patching("labels", object_size=14))
    assert sorted(s.object_id for s in ps.sources) == sorted(np.unique(lab[lab > 0]).tolist())


def test_an_object_numbered_in_the_billions_costs_no_more_than_its_neighbours(tmp_path):
    # regionprops and find_objects reserve room for every id up to the largest: one object numbered 2**31
    # in a 14-object label image made the image unusable ("not enough memory"); 10**7 cost 80 MB of slots.
    import tracemalloc

    from ddrcore.io.exchange import write_label_images
    from ddrcore.objects.measure import measure_objects

    f = field()
    lab = f.labels.astype(np.uint32)
    big = lab.copy()
    first = int(lab[lab > 0].min())
    big[lab == first] = 2**31 + 5
    (tmp_path / "in").mkdir()
    tifffile.imwrite(tmp_path / "in" / "X.tif", f.image)
    tifffile.imwrite(tmp_path / "in" / "X_labels.tif", big)
    ps = load(tmp_path / "in", patching=Patching("labels", object_size=14))
    assert 2**31 + 5 in {s.object_id for s in ps.sources} and len(ps) == len(np.unique(lab)) - 1
    by_id = {s.object_id: s.measurements for s in ps.sources}
    np.testing.assert_allclose(by_id[2**31 + 5], measure_objects(f.image, lab, [first])[0])
    big[big == 2**31 + 5] = 10**7
    tracemalloc.start()
    measure_objects(f.image, big, [10**7])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MiB to measure one object"
    out = write_label_images(tmp_path / "out", ps.sources, ps.patching, None, [tmp_path / "in"])
    assert int(tifffile.imread(out[0]).max()) == 2**31 + 5
    from ddrcore.io.exchange import write_rois

    src = next(s for s in ps.sources if s.object_id == 2**31 + 5)
    assert write_rois(tmp_path / "out" / "r.zip", [(src, 1, 3.0)], ps.patching, None, [tmp_path / "in"]) == 1


def test_a_mask_beside_its_image_is_never_read_as_data(tmp_path):
    # The DSB 2018 sample as napari's tutorials name it: the mask would be 96 "objects" of its own.
    f = field()
    tifffile.imwrite(tmp_path / "dsb2018-nuclei.tif", f.image)
    tifffile.imwrite(tmp_path / "dsb2018-nuclei-mask2d.tif", (f.labels > 0).astype(np.uint8) * 255)
    assert [p.name for p in find_images(tmp_path)] == ["dsb2018-nuclei.tif"]
    ps = load(tmp_path, patching=Patching("auto", object_size=14))
    assert {s.path for s in ps.sources} == {str(tmp_path / "dsb2018-nuclei.tif")}
    # ... which is said in one line naming the folder, the file and how to use it (detection and grid alike).
    for patching in (Patching("auto", object_size=14), Patching("grid", patch_size=32)):
        lines = [str(b) for b in load(tmp_path, patching=patching).bad]
        assert len(lines) == 1 and lines[0].startswith(str(tmp_path))
        assert "dsb2018-nuclei-mask2d.tif" in lines[0] and "--objects labels" in lines[0]
    # ... and as labels, the binary mask is split into one object per nucleus, and nothing is said.
    ps = load(tmp_path, patching=Patching("labels", object_size=14))
    assert len(ps) == int(f.labels.max()) and ps.bad == []


def test_other_tools_class_maps_and_the_stardist_layout_are_not_data(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    f = field()
    tifffile.imwrite(tmp_path / "images" / "a.tif", f.image)
    tifffile.imwrite(tmp_path / "masks" / "a.tif", f.labels.astype(np.uint16))
    tifffile.imwrite(tmp_path / "images" / "a_Simple Segmentation.tif", (f.labels > 0).astype(np.uint8) + 1)
    tifffile.imwrite(tmp_path / "images" / "a_Probabilities.tif", np.zeros((96, 96, 2), np.float32))
    assert [p.relative_to(tmp_path).as_posix() for p in find_images(tmp_path)] == ["images/a.tif"]
    assert find_label_image(tmp_path / "images" / "a.tif") == tmp_path / "masks" / "a.tif"
    ps = load(tmp_path, patching=Patching("labels", object_size=14))
    assert len(ps) == int(f.labels.max())
    assert not is_not_data(tmp_path / "masks" / "a.tif")   # given directly, a file is what the user says


# ------------------------------------------------------------------ points --
def _images(tmp_path, n=2):
    (tmp_path / "images").mkdir()
    fields = []
    for k in range(n):
        f = field(seed=k)
        tifffile.imwrite(tmp_path / "images" / f"a{k}.tif", f.image)
        fields.append(f)
    return fields


def test_points_on_pages_the_image_does_not_have_are_counted_not_dropped(tmp_path):
    # Frames numbered from 1 in a 3-page stack: the point on "page 3" vanished without a word.
    f = field()
    (tmp_path / "s").mkdir()
    tifffile.imwrite(tmp_path / "s" / "stack.tif", np.stack([f.image] * 3), metadata={"axes": "ZYX"})
    y, x = (float(v) for v in np.argwhere(f.labels > 0).mean(0))
    (tmp_path / "s" / "pts.csv").write_text("path,page,y,x\n" + "".join(f"stack.tif,{p},{y},{x}\n" for p in (1, 2, 3)))
    ps = load(tmp_path / "s", patching=Patching("points", object_size=12, points=str(tmp_path / "s" / "pts.csv")))
    assert sorted(s.page for s in ps.sources) == [1, 2]
    notes = " ".join(b.reason for b in ps.bad)
    assert "1 point(s) on pages this image does not have (it has 3" in notes, notes


def test_a_file_cy_cx_table_in_the_images_parent_folder_works(tmp_path):
    fields = _images(tmp_path)
    lines = ["file,cy,cx"] + [f"a{k}.tif,{y:.1f},{x:.1f}" for k, f in enumerate(fields) for y, x in f.centers]
    (tmp_path / "points.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "objects.csv"
    assert main(["--quiet", "objects", str(tmp_path / "images"), "--points", str(tmp_path / "points.csv"),
                 "--object-size", "14", "--csv", str(out)]) == 0
    got = rows(out)
    assert len(got) == sum(len(f.centers) for f in fields)
    assert {r["path"] for r in got} == {str(tmp_path / "images" / "a0.tif"), str(tmp_path / "images" / "a1.tif")}


def test_a_points_file_that_matches_no_image_says_so_in_one_line(tmp_path, capsys):
    _images(tmp_path)
    (tmp_path / "points.csv").write_text("path,y,x\nb7.tif,3,3\n")
    assert main(["--quiet", "objects", str(tmp_path / "images"), "--points", str(tmp_path / "points.csv"),
                 "--object-size", "14"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "name no image" in err and "b7.tif" in err


def test_points_naming_an_image_that_was_not_loaded_are_reported_not_dropped_silently(tmp_path, capsys):
    fields = _images(tmp_path)
    lines = ["path,y,x"] + [f"a0.tif,{y:.1f},{x:.1f}" for y, x in fields[0].centers] + ["a9.tif,3,3", "b7.tif,4,4"]
    (tmp_path / "points.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "objects.csv"
    assert main(["objects", str(tmp_path / "images"), "--points", str(tmp_path / "points.csv"),
                 "--object-size", "14", "--csv", str(out)]) == 0
    assert len(rows(out)) == len(fields[0].centers)          # the points that match are cut as before
    err = [ln for ln in capsys.readouterr().err.splitlines() if "points.csv" in ln]
    assert len(err) == 1 and "2 image(s) that were not loaded (a9.tif, b7.tif)" in err[0]


def test_cellprofiler_object_table_with_its_image_table(tmp_path):
    fields = _images(tmp_path)
    (tmp_path / "MyExpt_Image.csv").write_text("ImageNumber,FileName_DNA,PathName_DNA\n"
                                               "1,a0.tif,/elsewhere/images\n2,a1.tif,/elsewhere/images\n")
    lines = ["ImageNumber,ObjectNumber,Location_Center_X,Location_Center_Y"]
    for k, f in enumerate(fields):
        lines += [f"{k + 1},{j + 1},{x:.2f},{y:.2f}" for j, (y, x) in enumerate(f.centers)]
    (tmp_path / "MyExpt_Nuclei.csv").write_text("\n".join(lines) + "\n")
    pts = read_points(tmp_path / "MyExpt_Nuclei.csv")
    assert pts.form == "CellProfiler"
    ps = load(tmp_path / "images", patching=Patching("points", points=str(tmp_path / "MyExpt_Nuclei.csv"),
                                                     object_size=14))
    assert len(ps) == sum(len(f.centers) for f in fields)


def test_cellprofiler_table_with_file_names_in_it(tmp_path):
    fields = _images(tmp_path, 1)
    lines = ["ImageNumber,ObjectNumber,FileName_DNA,Location_Center_X,Location_Center_Y"]
    lines += [f"1,{j + 1},a0.tif,{x:.2f},{y:.2f}" for j, (y, x) in enumerate(fields[0].centers)]
    (tmp_path / "images" / "Nuclei.csv").write_text("\n".join(lines) + "\n")
    ps = load(tmp_path / "images" / "a0.tif",
              patching=Patching("points", points=str(tmp_path / "images" / "Nuclei.csv"), object_size=14))
    assert len(ps) == len(fields[0].centers)


def _trackmate(path, centers, unit, scale):
    head = ["LABEL,ID,TRACK_ID,QUALITY,POSITION_X,POSITION_Y,POSITION_Z,POSITION_T,FRAME",
            "Label,Spot ID,Track ID,Quality,X,Y,Z,T,Frame",
            "Label,Spot ID,Track ID,Quality,X,Y,Z,T,Frame",
            f",,,(quality),({unit}),({unit}),({unit}),(sec),"]     # TrackMate 7's four header rows, as it writes them
    body = [f"ID{j},{j},0,1.0,{x * scale:.4f},{y * scale:.4f},0,0,0" for j, (y, x) in enumerate(centers)]
    path.write_text("\n".join(head + body) + "\n")


def test_trackmate_spots_in_microns_are_converted_with_the_images_pixel_size(tmp_path):
    f = field()
    tifffile.imwrite(tmp_path / "a.tif", f.image, imagej=True, resolution=(1 / 0.5, 1 / 0.5),
                     metadata={"unit": "micron"})
    _trackmate(tmp_path / "spots.csv", f.centers, "micron", 0.5)
    pts = read_points(tmp_path / "spots.csv")
    assert pts.form == "TrackMate" and pts.unit == "micron"
    ps = load(tmp_path / "a.tif", patching=Patching("points", points=str(tmp_path / "spots.csv"), object_size=14))
    got = np.array(sorted((s.center_y, s.center_x) for s in ps.sources))
    np.testing.assert_allclose(got, np.array(sorted(map(tuple, f.centers))), atol=0.02)


def test_trackmate_spots_in_pixels_are_taken_as_they_are(tmp_path):
    f = field()
    tifffile.imwrite(tmp_path / "a.tif", f.image, imagej=True, resolution=(2.0, 2.0), metadata={"unit": "micron"})
    _trackmate(tmp_path / "spots.csv", f.centers, "pixel", 1.0)
    assert read_points(tmp_path / "spots.csv").unit == "px"
    ps = load(tmp_path / "a.tif", patching=Patching("points", points=str(tmp_path / "spots.csv"), object_size=14))
    got = np.array(sorted((s.center_y, s.center_x) for s in ps.sources))
    np.testing.assert_allclose(got, np.array(sorted(map(tuple, f.centers))), atol=0.02)


def test_trackmate_spots_in_microns_on_an_uncalibrated_image_are_refused_for_that_image(tmp_path):
    f = field()
    tifffile.imwrite(tmp_path / "a.tif", f.image)
    _trackmate(tmp_path / "spots.csv", f.centers, "micron", 0.5)
    with pytest.raises(DdridError) as e:
        load(tmp_path / "a.tif", patching=Patching("points", points=str(tmp_path / "spots.csv"), object_size=14))
    assert "says no pixel size" in str(e.value)


def test_napari_points_with_an_index_column(tmp_path):
    f = field()
    tifffile.imwrite(tmp_path / "a.tif", f.image)
    lines = ["index,axis-0,axis-1"] + [f"{j},{y},{x}" for j, (y, x) in enumerate(f.centers)]
    (tmp_path / "pts.csv").write_text("\n".join(lines) + "\n")
    ps = load(tmp_path / "a.tif", patching=Patching("points", points=str(tmp_path / "pts.csv"), object_size=14))
    assert len(ps) == len(f.centers)
