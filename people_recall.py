"""How many of the labelled people in real photos the people finder finds, and what it costs.

    python people_recall.py                          # ../shared/people/{coco,crowdpose,ochuman}
    python people_recall.py FOLDER ... --draw DIR    # and each photo with the people found and labelled
    python people_recall.py --grids 0 2 3 2,3        # compare tile grids (0: the whole image only)

Each folder holds photos and a COCO-style person_keypoints.json (keypoints by name; CrowdPose's 14 and
COCO's 17 share 12 body points). A labelled person with at least --min-keypoints labelled keypoints
counts; they are found when a person found matches them with an object keypoint similarity (OKS, COCO's
per-keypoint tolerances, on the keypoints both layouts have) of at least --oks, one person found per label.
A person found who matches no label is counted as unmatched: "on a label" when their box lies mostly
inside a labelled person's (found, but their landmarks are too far off to match), else "elsewhere" (a person the
labels leave out, or no person at all: --draw shows which).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

import people_finder as pf
import skeleton_utils as sk
import visualize

DEFAULT_FOLDERS = ("../shared/people/coco", "../shared/people/crowdpose", "../shared/people/ochuman")
LABELS_FILE = "person_keypoints.json"
# COCO's per-keypoint OKS constants (sigmas), in COCO17_NAMES order.
COCO_SIGMAS = dict(zip(sk.COCO17_NAMES, np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07,
                                                  .87, .87, .89, .89]) / 10.0))


@dataclass
class Label:
    keypoints: dict[str, np.ndarray]  # name -> (x, y) of the labelled keypoints
    area: float
    box: np.ndarray  # x0, y0, x1, y1
    counted: bool  # labelled well enough to count


@dataclass
class Tally:
    labelled: int = 0
    found: int = 0
    on_label: int = 0
    elsewhere: int = 0
    seconds: float = 0.0
    images: int = 0
    lines: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for name in ("labelled", "found", "on_label", "elsewhere", "seconds", "images"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def summary(self, name: str) -> str:
        recall = 100.0 * self.found / self.labelled if self.labelled else float("nan")
        return (f"{name}: found {self.found} of {self.labelled} labelled people ({recall:.0f}%); unmatched people "
                f"found: {self.on_label} on a label, {self.elsewhere} elsewhere; "
                f"{1000 * self.seconds / max(1, self.images):.0f} ms per photo")


def read_labels(folder: Path, min_keypoints: int) -> dict[str, list[Label]]:
    """Each photo's labelled people, by file name."""
    path = folder / LABELS_FILE
    try:
        data = json.loads(path.read_text())
        names = data["categories"][0]["keypoints"]
        files = {image["id"]: image["file_name"] for image in data["images"]}
        labels: dict[str, list[Label]] = {name: [] for name in files.values()}
        for person in data["annotations"]:
            values = np.asarray(person["keypoints"], dtype=float).reshape(-1, 3)
            keypoints = {n: v[:2] for n, v in zip(names, values) if v[2] > 0 and n in COCO_SIGMAS}
            x, y, w, h = person["bbox"]
            labels[files[person["image_id"]]].append(Label(keypoints, person.get("area", w * h),
                                                           np.array([x, y, x + w, y + h]),
                                                           person["num_keypoints"] >= min_keypoints))
    except (OSError, ValueError, KeyError, IndexError) as err:
        raise SystemExit(f"error: {path}: not a COCO-style keypoint file with categories, images and annotations "
                         f"({type(err).__name__}: {err}).") from err
    return labels


def oks(found: np.ndarray, label: Label) -> float:
    """Object keypoint similarity of a person found ((33, 3) MediaPipe landmarks) with a label."""
    if not label.keypoints:
        return 0.0
    mine = dict(zip(sk.COCO17_NAMES, found[list(sk.MEDIAPIPE_TO_COCO17), :2]))
    similarity = [np.exp(-np.sum((mine[n] - xy) ** 2) / (2 * max(label.area, 1.0) * (2 * COCO_SIGMAS[n]) ** 2))
                  for n, xy in label.keypoints.items()]
    return float(np.mean(similarity))


def score_photo(people: list, labels: list[Label], threshold: float) -> tuple[Tally, list[int | None]]:
    """The photo's tally, and which label (index) each person found matched, greedily by OKS."""
    pairs = sorted(((oks(p.landmarks_px, label), i, k) for i, p in enumerate(people) for k, label in enumerate(labels)),
                   reverse=True)
    matched: list[int | None] = [None] * len(people)
    taken = set()
    for similarity, i, k in pairs:
        if similarity >= threshold and matched[i] is None and k not in taken:
            matched[i] = k
            taken.add(k)
    tally = Tally(labelled=sum(label.counted for label in labels),
                  found=sum(1 for k in matched if k is not None and labels[k].counted))
    for person, k in zip(people, matched):
        if k is None:
            on_label = any(pf.box_inside(person.box, label.box) > 0.5 for label in labels)
            tally.on_label += on_label
            tally.elsewhere += not on_label
    return tally, matched


def draw(image: np.ndarray, people: list, labels: list[Label], matched: list[int | None]) -> np.ndarray:
    """Labels as boxes (bright: counted), people found with their number (in a matched label's box: matched)."""
    out = image.copy()
    for label in labels:
        x0, y0, x1, y1 = label.box.astype(int)
        cv2.rectangle(out, (x0, y0), (x1, y1), (0, 200, 0) if label.counted else (0, 90, 0), 2)
    tags = [f"{i + 1}" + ("" if k is not None else " unmatched") for i, k in enumerate(matched)]
    return visualize.draw_people(out, [p.landmarks_px[list(sk.MEDIAPIPE_TO_COCO17)] for p in people], tags)


def measure(folders: list[Path], finder: pf.PeopleFinder, args: argparse.Namespace) -> Tally:
    total = Tally()
    for folder in folders:
        tally = Tally()
        for name, labels in read_labels(folder, args.min_keypoints).items():
            image = cv2.imread(str(folder / name))
            if image is None:
                raise SystemExit(f"error: {folder / name}: cannot read the photo {LABELS_FILE} labels.")
            started = time.perf_counter()
            people = finder.find(image)
            seconds = time.perf_counter() - started
            photo, matched = score_photo(people, labels, args.oks)
            photo.seconds, photo.images = seconds, 1
            tally.add(photo)
            if args.draw:
                Path(args.draw).mkdir(parents=True, exist_ok=True)
                visualize.write_image(Path(args.draw) / f"{folder.name}_{name}", draw(image, people, labels, matched))
            print(f"  {folder.name}/{name}: {photo.found}/{photo.labelled} found, {len(people)} people, "
                  f"{photo.on_label} unmatched on a label, {photo.elsewhere} elsewhere, {1000 * seconds:.0f} ms")
        print(tally.summary(str(folder)))
        total.add(tally)
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", default=list(DEFAULT_FOLDERS),
                        help="folders of photos with a person_keypoints.json (default: ../shared/people's three)")
    parser.add_argument("--min-keypoints", type=int, default=10, help="labelled keypoints a person needs to count")
    parser.add_argument("--oks", type=float, default=0.5, help="OKS at which a person found matches a label")
    parser.add_argument("--grids", nargs="+", default=None,
                        help="tile grids to compare, each comma-separated grid sizes (0: the whole image alone); "
                             f"default: the finder's own, {','.join(map(str, pf.TILE_GRIDS))}")
    parser.add_argument("--draw", metavar="DIR", help="write each photo with its labels and the people found here")
    args = parser.parse_args(argv)
    folders = [Path(f) for f in args.folders]
    missing = [str(f) for f in folders if not (f / LABELS_FILE).is_file()]
    if missing:
        raise SystemExit(f"error: no {LABELS_FILE} in {', '.join(missing)}: give folders of labelled photos "
                         f"(../shared/people holds three).")
    with pf.PeopleFinder() as finder:
        for grids in args.grids or [",".join(map(str, pf.TILE_GRIDS))]:
            finder.grids = tuple(int(n) for n in grids.split(",") if int(n) > 1)
            print(f"tiles: the whole image + {' + '.join(f'{n} x {n}' for n in finder.grids) or 'none'}")
            print(measure(folders, finder, args).summary("all"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
