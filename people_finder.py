"""Every person in an image, with the two models the mediapipe wheel bundles: its person detector finds
them, its landmark model gives each one's 33 landmarks on a crop of their own.

    finder = PeopleFinder()
    people = finder.find(image_bgr, max_people=None)   # list[Detection], largest (Detection.size) first
    follower = PeopleFollower(fps=25.0, max_people=None)
    people = follower.follow(frame_bgr)                 # a video's frames in order: found again now and then

Why not mp.solutions.pose: it gives one person, and its detector, run on a whole photo shrunk to 224 x 224,
fires on one or two of the people in a group. Measured on ../shared/people (people_recall.py; the README's
"Several people" has the figures), the whole image alone finds 9 of 20 labelled people; with overlapping
tiles (a 3 x 3 grid at half the image's size, where people are twice as large to the detector) 17 of 20.

How (photos):
  1. proposals: the detector on the whole image and on the tiles. Each detection's hip centre and its
     size-and-rotation point give a square region of interest (ROI), as MediaPipe's own PoseDetectionToRoi
     does (a square twice their distance, times 1.25, turned so the body is upright).
  2. proposals of one person from several tiles are merged by non-maximum suppression on their ROIs.
  3. the landmark model on each ROI (where it finds no one, on the upper body's ROI the detection also
     gives, as is and tighter), then twice more on the ROI its own auxiliary landmarks give (as MediaPipe's
     tracking does from frame to frame; in a video once): a proposal from a tile that saw half a person
     settles on the whole person. A proposal counts when the detector's score times the landmark model's pose-presence
     score reaches MIN_CONFIDENCE.
  4. duplicates: a person whose face is another's (noses within half a face width), whose landmarks lie on
     another's (median distance of the landmarks both see under a tenth of their height), or whose box lies
     inside the body of a person more than twice their size (body_region: a hat, a flag behind them), is dropped.
Videos: PeopleFollower finds people on the first frame and again every RESCAN_S seconds (and searches
the whole frame, the people followed masked out, while someone is missing), and in between follows
each one from their previous landmarks, each through a landmark graph of their own with the
smoothing filters of MediaPipe's tracking mode (so one person's landmarks are what mp.solutions.pose
gives them in a video, to the filter).
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

import skeleton_utils as sk
from detector import VISIBLE, Detection, native_stderr_silenced

NOSE = sk.MEDIAPIPE_LANDMARKS.index("nose")
EARS = (sk.MEDIAPIPE_LANDMARKS.index("left_ear"), sk.MEDIAPIPE_LANDMARKS.index("right_ear"))
OUTER_EYES = (sk.MEDIAPIPE_LANDMARKS.index("left_eye_outer"), sk.MEDIAPIPE_LANDMARKS.index("right_eye_outer"))

# The tile grids the detector sees besides the whole image (see tiles()). people_recall.py --grids on
# ../shared/people found 9 of 20 people with the whole image alone, 11 with 2 x 2, 17 with 3 x 3, 15 with
# 2 x 2 and 3 x 3, 13 with 4 x 4 (finer tiles cut people into pieces the detector finds as people).
TILE_GRIDS = (3,)
DETECTION_MIN_SCORE = 0.2  # MediaPipe's own threshold for this detector
PROPOSAL_OVERLAP = 0.5  # ROIs overlapping more (intersection over union) are one person's
ROI_SCALE = 1.25  # MediaPipe's: the ROI is the body's circle enlarged by this
UPPER_BODY_TIGHT = 0.6  # the tighter upper-body ROI tried last, a share of the upper body's
REFINE_STEPS = 2  # landmark passes on the ROI of the previous pass's auxiliary landmarks, in a photo
VIDEO_REFINE_STEPS = 1  # for a person found in a video: the next frames, following them, refine it further
# A person found counts when the detector's score of their proposal times the landmark model's presence score
# reaches this: on ../shared/people the two false people (a sign, a cake stand) scored 0.12 and 0.32, the
# least sure of the people labelled 0.38.
MIN_CONFIDENCE = 0.35
COLLAPSED = 0.1  # a person whose seen landmarks span less than this share of their ROI is no one
SAME_FACE = 0.5  # noses closer than this many face widths are one face: one person
SAME_PERSON = 0.1  # median landmark distance, in units of a person's height, under which two are one
PART_OF = 0.8  # a box this much inside a box over twice its area is a part of that person found again
# A video's people are found again this often (seconds) and followed in between: a new person appears
# within this time. A search of the whole image and its tiles costs about 0.1 s on 2 cores, five frames of
# following one person (benchmark.py --video measures what it does to the frame rate).
RESCAN_S = 3.0
MASK_MARGIN = 0.25  # a person masked out (for the search, for following another): see body_region
LOST_SEARCH_S = 0.6  # how long after someone was lost the whole frame is searched on every frame
VELOCITY_SMOOTHING = 0.3  # the weight of the newest step in a person's speed
SHRUNK = 0.5  # a fit whose box has less than this share of the last one's area is of a person partly hidden
RELINK_MARGIN = 0.5  # a person found within that time whose box's centre lies in a lost one's box, moved on at
# their last speed and enlarged by this much of its size on each side, is them: they keep their number


# The protobuf modules that define the options of the calculators below: text_format needs them imported.
OPTION_MODULES = tuple(f"mediapipe.calculators.{name}_calculator_pb2" for name in (
    "core.constant_side_packet", "core.split_vector", "tensor.image_to_tensor", "tensor.inference",
    "tensor.tensors_to_detections", "tensor.tensors_to_landmarks", "tflite.ssd_anchors", "util.landmarks_smoothing",
    "util.non_max_suppression", "util.refine_landmarks_from_heatmap", "util.thresholding", "util.visibility_copy",
    "util.visibility_smoothing"))


# MediaPipe's PoseDetectionCpu with every detection kept (its subgraph's nodes, written out).
DETECTOR_GRAPH = """
input_stream: "image"
output_stream: "detections"
node { calculator: "ImageToTensorCalculator" input_stream: "IMAGE:image"
  output_stream: "TENSORS:input_tensors" output_stream: "LETTERBOX_PADDING:letterbox_padding"
  options { [mediapipe.ImageToTensorCalculatorOptions.ext] { output_tensor_width: 224 output_tensor_height: 224
    keep_aspect_ratio: true output_tensor_float_range { min: -1.0 max: 1.0 } border_mode: BORDER_ZERO } } }
node { calculator: "InferenceCalculator" input_stream: "TENSORS:input_tensors" output_stream: "TENSORS:detection_tensors"
  options { [mediapipe.InferenceCalculatorOptions.ext] {
    model_path: "mediapipe/modules/pose_detection/pose_detection.tflite" delegate { xnnpack {} } } } }
node { calculator: "SsdAnchorsCalculator" output_side_packet: "anchors"
  options { [mediapipe.SsdAnchorsCalculatorOptions.ext] { num_layers: 5 min_scale: 0.1484375 max_scale: 0.75
    input_size_height: 224 input_size_width: 224 anchor_offset_x: 0.5 anchor_offset_y: 0.5
    strides: 8 strides: 16 strides: 32 strides: 32 strides: 32 aspect_ratios: 1.0 fixed_anchor_size: true } } }
node { calculator: "TensorsToDetectionsCalculator" input_stream: "TENSORS:detection_tensors"
  input_side_packet: "ANCHORS:anchors" output_stream: "DETECTIONS:unfiltered_detections"
  options { [mediapipe.TensorsToDetectionsCalculatorOptions.ext] { num_classes: 1 num_boxes: 2254 num_coords: 12
    box_coord_offset: 0 keypoint_coord_offset: 4 num_keypoints: 4 num_values_per_keypoint: 2 sigmoid_score: true
    score_clipping_thresh: 100.0 reverse_output_order: true x_scale: 224.0 y_scale: 224.0 h_scale: 224.0
    w_scale: 224.0 min_score_thresh: %(min_score)s } } }
node { calculator: "NonMaxSuppressionCalculator" input_stream: "unfiltered_detections" output_stream: "filtered_detections"
  options { [mediapipe.NonMaxSuppressionCalculatorOptions.ext] { min_suppression_threshold: 0.3
    overlap_type: INTERSECTION_OVER_UNION algorithm: WEIGHTED } } }
node { calculator: "DetectionLetterboxRemovalCalculator" input_stream: "DETECTIONS:filtered_detections"
  input_stream: "LETTERBOX_PADDING:letterbox_padding" output_stream: "DETECTIONS:detections" }
"""

# MediaPipe's PoseLandmarkByRoiCpu (model "full") written out, so that its pose-presence score comes out too,
# and, for a followed person, the smoothing filters of its tracking mode (PoseLandmarkFiltering's).
LANDMARK_GRAPH = """
input_stream: "image"
input_stream: "roi"
output_stream: "landmarks"
output_stream: "auxiliary_landmarks"
output_stream: "world_landmarks"
output_stream: "presence"
node { calculator: "ConstantSidePacketCalculator" output_side_packet: "PACKET:model_complexity"
  options { [mediapipe.ConstantSidePacketCalculatorOptions.ext] { packet { int_value: %(complexity)d } } } }
node { calculator: "ImageToTensorCalculator" input_stream: "IMAGE:image" input_stream: "NORM_RECT:roi"
  output_stream: "TENSORS:input_tensors" output_stream: "LETTERBOX_PADDING:letterbox_padding"
  options { [mediapipe.ImageToTensorCalculatorOptions.ext] { output_tensor_width: 256 output_tensor_height: 256
    keep_aspect_ratio: true output_tensor_float_range { min: 0.0 max: 1.0 } } } }
node { calculator: "PoseLandmarkModelLoader" input_side_packet: "MODEL_COMPLEXITY:model_complexity"
  output_side_packet: "MODEL:model" }
node { calculator: "InferenceCalculator" input_side_packet: "MODEL:model" input_stream: "TENSORS:input_tensors"
  output_stream: "TENSORS:output_tensors" options { [mediapipe.InferenceCalculatorOptions.ext] { delegate { xnnpack {} } } } }
node { calculator: "SplitTensorVectorCalculator" input_stream: "output_tensors" output_stream: "landmark_tensors"
  output_stream: "pose_flag_tensor" output_stream: "heatmap_tensor" output_stream: "world_landmark_tensors"
  options { [mediapipe.SplitVectorCalculatorOptions.ext] { ranges { begin: 0 end: 1 } ranges { begin: 1 end: 2 }
    ranges { begin: 3 end: 4 } ranges { begin: 4 end: 5 } } } }
node { calculator: "TensorsToFloatsCalculator" input_stream: "TENSORS:pose_flag_tensor" output_stream: "FLOAT:presence" }
node { calculator: "ThresholdingCalculator" input_stream: "FLOAT:presence" output_stream: "FLAG:pose_presence"
  options { [mediapipe.ThresholdingCalculatorOptions.ext] { threshold: 0.5 } } }
node { calculator: "GateCalculator" input_stream: "landmark_tensors" input_stream: "world_landmark_tensors"
  input_stream: "ALLOW:pose_presence" output_stream: "ensured_landmark_tensors"
  output_stream: "ensured_world_landmark_tensors" }
node { calculator: "TensorsToLandmarksCalculator" input_stream: "TENSORS:ensured_landmark_tensors"
  output_stream: "NORM_LANDMARKS:raw_landmarks"
  options { [mediapipe.TensorsToLandmarksCalculatorOptions.ext] { num_landmarks: 39 input_image_width: 256
    input_image_height: 256 visibility_activation: SIGMOID presence_activation: SIGMOID } } }
node { calculator: "RefineLandmarksFromHeatmapCalculator" input_stream: "NORM_LANDMARKS:raw_landmarks"
  input_stream: "TENSORS:heatmap_tensor" output_stream: "NORM_LANDMARKS:refined_landmarks"
  options { [mediapipe.RefineLandmarksFromHeatmapCalculatorOptions.ext] { kernel_size: 7 } } }
node { calculator: "LandmarkLetterboxRemovalCalculator" input_stream: "LANDMARKS:refined_landmarks"
  input_stream: "LETTERBOX_PADDING:letterbox_padding" output_stream: "LANDMARKS:adjusted_landmarks" }
node { calculator: "LandmarkProjectionCalculator" input_stream: "NORM_LANDMARKS:adjusted_landmarks"
  input_stream: "NORM_RECT:roi" output_stream: "NORM_LANDMARKS:all_landmarks" }
node { calculator: "SplitNormalizedLandmarkListCalculator" input_stream: "all_landmarks"
  output_stream: "%(landmarks)s" output_stream: "%(auxiliary)s"
  options { [mediapipe.SplitVectorCalculatorOptions.ext] { ranges { begin: 0 end: 33 } ranges { begin: 33 end: 35 } } } }
node { calculator: "TensorsToLandmarksCalculator" input_stream: "TENSORS:ensured_world_landmark_tensors"
  output_stream: "LANDMARKS:raw_world_landmarks"
  options { [mediapipe.TensorsToLandmarksCalculatorOptions.ext] { num_landmarks: 39 } } }
node { calculator: "VisibilityCopyCalculator" input_stream: "NORM_LANDMARKS_FROM:raw_landmarks"
  input_stream: "LANDMARKS_TO:raw_world_landmarks" output_stream: "LANDMARKS_TO:world_with_visibility"
  options { [mediapipe.VisibilityCopyCalculatorOptions.ext] { copy_visibility: true copy_presence: true } } }
node { calculator: "WorldLandmarkProjectionCalculator" input_stream: "LANDMARKS:world_with_visibility"
  input_stream: "NORM_RECT:roi" output_stream: "LANDMARKS:all_world_landmarks" }
node { calculator: "SplitLandmarkListCalculator" input_stream: "all_world_landmarks" output_stream: "%(world)s"
  options { [mediapipe.SplitVectorCalculatorOptions.ext] { ranges { begin: 0 end: 33 } } } }
"""

# PoseLandmarkFiltering's filters (visibility low-pass, One-Euro on the coordinates; the auxiliary landmarks,
# which place the next ROI, smoothed harder), on the outputs of LANDMARK_GRAPH. The metric world landmarks
# are left as they come: the lifting does not use them, and filtering them costs 1.7 ms a frame.
SMOOTHING_NODES = """
node { calculator: "ImagePropertiesCalculator" input_stream: "IMAGE:image" output_stream: "SIZE:image_size" }
node { calculator: "VisibilitySmoothingCalculator" input_stream: "NORM_LANDMARKS:unfiltered_landmarks"
  output_stream: "NORM_FILTERED_LANDMARKS:visibility_filtered"
  options { [mediapipe.VisibilitySmoothingCalculatorOptions.ext] { low_pass_filter { alpha: 0.1 } } } }
node { calculator: "LandmarksSmoothingCalculator" input_stream: "NORM_LANDMARKS:visibility_filtered"
  input_stream: "IMAGE_SIZE:image_size" output_stream: "NORM_FILTERED_LANDMARKS:landmarks"
  options { [mediapipe.LandmarksSmoothingCalculatorOptions.ext] {
    one_euro_filter { min_cutoff: 0.1 beta: 40.0 derivate_cutoff: 1.0 } } } }
node { calculator: "VisibilitySmoothingCalculator" input_stream: "NORM_LANDMARKS:unfiltered_auxiliary"
  output_stream: "NORM_FILTERED_LANDMARKS:auxiliary_visibility_filtered"
  options { [mediapipe.VisibilitySmoothingCalculatorOptions.ext] { low_pass_filter { alpha: 0.1 } } } }
node { calculator: "LandmarksSmoothingCalculator" input_stream: "NORM_LANDMARKS:auxiliary_visibility_filtered"
  input_stream: "IMAGE_SIZE:image_size" output_stream: "NORM_FILTERED_LANDMARKS:auxiliary_landmarks"
  options { [mediapipe.LandmarksSmoothingCalculatorOptions.ext] {
    one_euro_filter { min_cutoff: 0.01 beta: 1.0 derivate_cutoff: 1.0 } } } }
"""


def _graph(text: str):
    """A MediaPipe graph of a text config, ready to process()."""
    from google.protobuf import text_format  # with mediapipe, which is slow to import: only where a graph is made
    from mediapipe.framework import calculator_pb2
    from mediapipe.python import solution_base

    for name in OPTION_MODULES:
        importlib.import_module(name)
    with native_stderr_silenced():
        solution = solution_base.SolutionBase(graph_config=text_format.Parse(text, calculator_pb2.CalculatorGraphConfig()))
        # Its calculators open, and log, in background threads after it starts: wait for them while silenced.
        solution._graph.wait_until_idle()
    return solution


@dataclass
class Roi:
    """A square region of interest in pixels: its centre, side and rotation (radians, MediaPipe's sense)."""

    x: float
    y: float
    size: float
    rotation: float
    # A proposal's ROIs to try, in order, where this one finds no one: its upper body's, and that at
    # UPPER_BODY_TIGHT of its size (a half-body portrait among others: the wider ROIs hold the others too).
    fallbacks: tuple[Roi, ...] = ()
    score: float = 1.0  # the detector's confidence in the proposal
    shoulders: np.ndarray | None = None  # a proposal's mid-shoulder point, pixels

    def scaled(self, factor: float) -> Roi:
        return Roi(self.x, self.y, self.size * factor, self.rotation)

    @classmethod
    def from_points(cls, centre: np.ndarray, scale_point: np.ndarray) -> Roi:
        """MediaPipe's ROI from a body's centre and its size-and-rotation point (detection or auxiliary landmarks)."""
        dx, dy = scale_point[0] - centre[0], scale_point[1] - centre[1]
        rotation = math.pi / 2 - math.atan2(-dy, dx)
        rotation = (rotation + math.pi) % (2 * math.pi) - math.pi
        return cls(float(centre[0]), float(centre[1]), 2 * math.hypot(dx, dy) * ROI_SCALE, rotation)

    def corners(self) -> np.ndarray:
        """(4,) x0, y0, x1, y1 of the square, unrotated."""
        half = self.size / 2
        return np.array([self.x - half, self.y - half, self.x + half, self.y + half])

    def normalized(self, width: int, height: int):
        from mediapipe.framework.formats import rect_pb2

        return rect_pb2.NormalizedRect(x_center=self.x / width, y_center=self.y / height, width=self.size / width,
                                       height=self.size / height, rotation=self.rotation)


def box_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    inter = box_area(np.r_[np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])])
    union = box_area(a) + box_area(b) - inter
    return inter / union if union > 0 else 0.0


def box_inside(a: np.ndarray, b: np.ndarray) -> float:
    """The share of box a's area that lies inside box b."""
    area = box_area(a)
    return box_area(np.r_[np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])]) / area if area > 0 else 0.0


def box_area(box: np.ndarray) -> float:
    return float(max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]))


@dataclass
class Landmarks:
    """One pass of the landmark model: a Detection, and the ROI its auxiliary landmarks give the next pass."""

    detection: Detection
    next_roi: Roi
    presence: float

    @property
    def collapsed(self) -> bool:
        """Landmarks crowded into a speck of their ROI: no person's (seen on a face half hidden, a hat)."""
        box = self.detection.box
        return max(box[2] - box[0], box[3] - box[1]) < COLLAPSED * self.next_roi.size


class LandmarkGraph:
    """MediaPipe's landmark model on one ROI of an image at a time; with smooth, a followed person's own filters."""

    def __init__(self, smooth: bool, complexity: int = 1):
        names = {"landmarks": "unfiltered_landmarks" if smooth else "landmarks", "world": "world_landmarks",
                 "auxiliary": "unfiltered_auxiliary" if smooth else "auxiliary_landmarks"}
        self._graph = _graph(LANDMARK_GRAPH % {"complexity": complexity, **names} + (SMOOTHING_NODES if smooth else ""))
        self._warm_up()

    def run(self, rgb: np.ndarray, roi: Roi) -> Landmarks | None:
        """The person in the ROI, or None when the model sees no one there."""
        height, width = rgb.shape[:2]
        with native_stderr_silenced():
            out = self._graph.process({"image": rgb, "roi": roi.normalized(width, height)})
        if out.landmarks is None:
            return None
        landmarks = np.array([(p.x * width, p.y * height, p.visibility) for p in out.landmarks.landmark])
        world_mm = np.array([(p.x, p.y, p.z) for p in out.world_landmarks.landmark]) * 1000.0
        auxiliary = np.array([(p.x * width, p.y * height) for p in out.auxiliary_landmarks.landmark])
        detection = Detection(landmarks, world_mm)
        return Landmarks(detection, Roi.from_points(auxiliary[0], auxiliary[1]), float(out.presence))

    def reset(self) -> None:
        """Forget the filters' state: the graph serves another person from the next frame."""
        with native_stderr_silenced():
            self._graph.reset()
            self._graph._graph.wait_until_idle()  # the calculators open again, and log, in background threads
        self._warm_up()

    def _warm_up(self) -> None:
        """One blank image through the graph: it starts its calculators, which log, on its first image (in
        background threads, so the log would come later, unsilenced). A blank image gives no landmarks, so the
        filters' state is left as it is."""
        self.run(np.zeros((64, 64, 3), dtype=np.uint8), Roi(32, 32, 64, 0))

    def close(self) -> None:
        with native_stderr_silenced():
            self._graph.close()


def tiles(width: int, height: int, grids: tuple[int, ...] = TILE_GRIDS) -> list[tuple[int, int, int, int]]:
    """The whole image and, for each grid size n, a grid of half-overlapping tiles of 2 / (n + 1) of the image's
    width and height: n x n, with more along the length of an image longer than 3:2 (a wide group photo), so
    tiles keep about the shape of a photo. As (x0, y0, x1, y1) pixels."""
    out = [(0, 0, width, height)]
    for n in grids:
        columns = max(n, round(n * width / height / 1.5))
        rows = max(n, round(n * height / width / 1.5))
        tile_w, tile_h = 2 * width // (columns + 1), 2 * height // (rows + 1)
        out += [(i * width // (columns + 1), j * height // (rows + 1), i * width // (columns + 1) + tile_w,
                 j * height // (rows + 1) + tile_h) for j in range(rows) for i in range(columns)]
    return out


def same_person(a: Detection, b: Detection) -> bool:
    """Whether two people found are one: one face, landmarks on each other's, or one a part of the other found again."""
    if min(a.landmarks_px[NOSE, 2], b.landmarks_px[NOSE, 2]) > VISIBLE:
        face = max(face_width(a.landmarks_px), face_width(b.landmarks_px))
        if np.linalg.norm(a.landmarks_px[NOSE, :2] - b.landmarks_px[NOSE, :2]) < SAME_FACE * face:
            return True
    height = max(1.0, a.box[3] - a.box[1], b.box[3] - b.box[1])
    # Over the landmarks both see: the ones neither sees (legs out of the picture) are guesses that differ.
    shared = (a.landmarks_px[:, 2] > VISIBLE) & (b.landmarks_px[:, 2] > VISIBLE)
    shared = shared if shared.sum() >= 3 else np.ones(len(shared), dtype=bool)
    gaps = np.linalg.norm(a.landmarks_px[shared, :2] - b.landmarks_px[shared, :2], axis=1)
    if np.median(gaps) < SAME_PERSON * height:
        return True
    small, large = sorted((a.box, b.box), key=box_area)
    return box_inside(small, body_region(large)) > PART_OF and box_area(small) < 0.5 * box_area(large)


def face_width(landmarks_px: np.ndarray) -> float:
    """The wider of ear to ear and outer eye to outer eye, pixels."""
    return float(max(np.linalg.norm(landmarks_px[EARS[0], :2] - landmarks_px[EARS[1], :2]),
                     np.linalg.norm(landmarks_px[OUTER_EYES[0], :2] - landmarks_px[OUTER_EYES[1], :2])))


def distinct_people(found: list[Landmarks]) -> list[Landmarks]:
    """The people found with the duplicates of larger ones removed, largest first."""
    kept: list[Landmarks] = []
    for person in sorted(found, key=lambda f: -f.detection.size):
        if not any(same_person(person.detection, other.detection) for other in kept):
            kept.append(person)
    return kept


class PeopleFinder:
    """Every person in a photo: detector proposals on tiles, landmarks per proposal, duplicates removed."""

    def __init__(self, complexity: int = 1, grids: tuple[int, ...] = TILE_GRIDS):
        self.grids = grids
        self._detector = _graph(DETECTOR_GRAPH % {"min_score": DETECTION_MIN_SCORE})
        self._landmarks = LandmarkGraph(smooth=False, complexity=complexity)
        # Parts of a graph start, and log, on its first image: here, where the log is silenced.
        self.proposals(np.zeros((64, 64, 3), dtype=np.uint8), [(0, 0, 64, 64)])

    def proposals(self, rgb: np.ndarray, regions: list[tuple[int, int, int, int]] | None = None) -> list[Roi]:
        """ROIs of the detector's detections on the regions (default: the whole image and its tiles), one per
        person, most confident first."""
        height, width = rgb.shape[:2]
        found: list[Roi] = []
        for x0, y0, x1, y1 in regions or tiles(width, height, self.grids):
            with native_stderr_silenced():
                out = self._detector.process({"image": np.ascontiguousarray(rgb[y0:y1, x0:x1])})
            for detection in out.detections or []:
                points = [np.array([x0 + k.x * (x1 - x0), y0 + k.y * (y1 - y0)])
                          for k in detection.location_data.relative_keypoints]
                roi, upper = Roi.from_points(points[0], points[1]), Roi.from_points(points[2], points[3])
                roi.fallbacks, roi.score = (upper, upper.scaled(UPPER_BODY_TIGHT)), float(detection.score[0])
                roi.shoulders = points[2]
                found.append(roi)
        kept: list[Roi] = []
        for roi in sorted(found, key=lambda r: -r.score):
            if all(box_overlap(roi.corners(), other.corners()) < PROPOSAL_OVERLAP for other in kept):
                kept.append(roi)
        return kept

    def person_at(self, rgb: np.ndarray, roi: Roi, refine_steps: int = REFINE_STEPS) -> Landmarks | None:
        """The person a proposal points at (in its whole-body ROI, else in its fallbacks), the ROI settled on
        them by up to refine_steps more passes (a pass that loses them keeps the one before)."""
        result = self._landmarks.run(rgb, roi)
        for fallback in roi.fallbacks:
            result = result or self._landmarks.run(rgb, fallback)
        for _ in range(refine_steps if result is not None else 0):
            result = self._landmarks.run(rgb, result.next_roi) or result
        return result

    def find(self, image_bgr: np.ndarray, max_people: int | None = None) -> list[Detection]:
        """Everyone in a BGR image, largest first (at most max_people of them)."""
        people, _ = self.find_with_rois(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))
        return people[:max_people]

    def find_with_rois(self, rgb: np.ndarray, rois: list[Roi] | None = None,
                       refine_steps: int = REFINE_STEPS) -> tuple[list[Detection], list[Roi]]:
        """Everyone in an RGB image (or at the given proposals), largest first, and the ROI each one's next pass
        would use (for following them)."""
        found = [(self.person_at(rgb, roi, refine_steps), roi) for roi in (self.proposals(rgb) if rois is None else rois)]
        found = [f for f, roi in found if f is not None and f.presence * roi.score >= MIN_CONFIDENCE
                 and not f.collapsed]
        people = distinct_people(found)
        return [f.detection for f in people], [f.next_roi for f in people]

    def close(self) -> None:
        self._landmarks.close()
        with native_stderr_silenced():
            self._detector.close()

    def __enter__(self) -> PeopleFinder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class _Followed:
    graph: LandmarkGraph
    roi: Roi
    number: int  # the person's, for as long as they are followed (Detection.followed)
    box: np.ndarray | None = None  # where they were last seen whole
    frame: int = 0  # when
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # of the box's centre, pixels per frame

    def seen(self, result: Landmarks, frame: int) -> None:
        """Follow on from this frame's landmarks; their box and speed only when they are not a shrunken fit
        (a person half hidden behind another), so that where they went stays known."""
        self.roi = result.next_roi
        box = result.detection.box
        if self.box is None or box_area(box) >= SHRUNK * box_area(self.box):
            if self.box is not None:  # smoothed: one fit's jitter is not a change of speed
                step = (_centre(box) - _centre(self.box)) / max(1, frame - self.frame)
                self.velocity = VELOCITY_SMOOTHING * step + (1 - VELOCITY_SMOOTHING) * self.velocity
            self.box, self.frame = box, frame


@dataclass
class _Lost:
    number: int
    box: np.ndarray  # where they were last seen whole
    velocity: np.ndarray
    seen_at: int  # the frame of that
    lost_at: int


class PeopleFollower:
    """Everyone in a video's frames, in order: found on the first frame and every RESCAN_S seconds, followed in
    between from each one's previous landmarks (MediaPipe's tracking, per person).

    Between rescans the whole frame is searched too, with the people followed masked out (so the detector
    sees the others), while nobody is followed and for LOST_SEARCH_S after someone was lost: a person hidden
    behind another for a moment is found again when they come out.
    """

    def __init__(self, fps: float, max_people: int | None = None, complexity: int = 1):
        self.max_people, self.complexity = max_people, complexity
        self.rescan_frames = max(1, round(RESCAN_S * fps))
        self.search_frames = round(LOST_SEARCH_S * fps)
        self._finder = PeopleFinder(complexity)
        self._followed: list[_Followed] = []
        self._spare: list[LandmarkGraph] = []  # graphs of people lost, reset, for the next ones found
        self._frame = 0
        self._numbers = 0  # people followed so far
        self._lost: list[_Lost] = []  # people lost lately

    def follow(self, frame_bgr: np.ndarray) -> list[Detection]:
        """The people of the next frame, largest first."""
        rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        people: list[Detection] = []
        kept: list[_Followed] = []
        for followed in self._followed:
            # The others followed are masked: a whole-body ROI often holds them too (two people crossing),
            # and the model could jump to one of them.
            others = [f.box for f in self._followed if f is not followed and f.box is not None]
            result = followed.graph.run(masked(rgb, [body_region(box) for box in others], 0.0,
                                               keep=body_region(followed.box)), followed.roi)
            if result is None or any(same_person(result.detection, other) for other in people):
                self._release(followed.graph)  # lost, or now on someone followed already
                self._lost.append(_Lost(followed.number, followed.box, followed.velocity, followed.frame, self._frame))
                continue
            followed.seen(result, self._frame)
            result.detection.followed = followed.number
            people.append(result.detection)
            kept.append(followed)
        self._followed = kept
        if self._frame % self.rescan_frames == 0:
            people += self._rescan(rgb, people)
        elif not people or self._recently_lost():
            people += self._new_people(masked(rgb, [body_region(p.box) for p in people], 0.0), people,
                                       [(0, 0, rgb.shape[1], rgb.shape[0])], rgb)
        self._frame += 1
        order = sorted(range(len(people)), key=lambda k: -people[k].size)
        self._followed = [self._followed[k] for k in order]
        return [people[k] for k in order]

    def _rescan(self, rgb: np.ndarray, people: list[Detection]) -> list[Detection]:
        """New people in the whole image and its tiles. With max_people, the tiles are searched only while the
        whole image has not filled it: one detector pass instead of ten, so --max-people 1 on one person costs
        about what MediaPipe alone does."""
        regions = tiles(rgb.shape[1], rgb.shape[0], self._finder.grids)
        if self.max_people is None:
            return self._new_people(rgb, people, regions)
        new = self._new_people(rgb, people, regions[:1])
        if len(people) + len(new) < self.max_people:
            new += self._new_people(rgb, people + new, regions[1:])
        return new

    def _new_people(self, searched: np.ndarray, people: list[Detection], regions: list[tuple[int, int, int, int]],
                    rgb: np.ndarray | None = None) -> list[Detection]:
        """People the detector finds in the regions of the searched image (landmarks on rgb, default: searched)
        who are not followed yet; they are followed from the next frame."""
        if self.max_people is not None and len(people) >= self.max_people:
            return []
        rgb = searched if rgb is None else rgb
        # Proposals of someone followed already are not fitted again: their ROIs overlap, or the proposal's
        # shoulders lie on the person's body (the detector finds people in parts of people, a face, a hat).
        rois = [roi for roi in self._finder.proposals(searched, regions)
                if all(box_overlap(roi.corners(), f.roi.corners()) < PROPOSAL_OVERLAP for f in self._followed)
                and not any(_inside(roi.shoulders, body_region(f.box)) for f in self._followed if f.box is not None)]
        found, next_rois = self._finder.find_with_rois(rgb, rois, VIDEO_REFINE_STEPS)
        new = []
        for person, roi in zip(found, next_rois):
            if any(same_person(person, other) for other in people + new):
                continue
            if self.max_people is not None and len(people) + len(new) >= self.max_people:
                break
            lost = self._lost_one_at(person)
            if lost is None:
                self._numbers += 1
                followed = _Followed(self._graph(), roi, self._numbers, person.box, self._frame)
            else:  # where they were last seen whole, and their speed, go on
                followed = _Followed(self._graph(), roi, lost.number, lost.box, lost.seen_at, lost.velocity)
            person.followed = followed.number
            self._followed.append(followed)
            new.append(person)
        return new

    def _recently_lost(self) -> bool:
        """Whether someone lost within LOST_SEARCH_S is still missing (those lost longer ago are forgotten)."""
        self._lost = [lost for lost in self._lost if self._frame - lost.lost_at <= self.search_frames]
        return bool(self._lost)

    def _lost_one_at(self, person: Detection) -> _Lost | None:
        """The one lost lately (the nearest such) where this person is found, or None: a person found where
        someone was lost is them, and keeps their number."""
        centre = _centre(person.box)
        near = []
        for k, lost in enumerate(self._lost):
            expected = lost.box + np.tile(lost.velocity * (self._frame - lost.seen_at), 2)  # on at their last speed
            reach = RELINK_MARGIN * (expected[2:] - expected[:2])
            if np.all(centre >= expected[:2] - reach) and np.all(centre <= expected[2:] + reach):
                near.append((float(np.linalg.norm(centre - _centre(expected))), k))
        return self._lost.pop(min(near)[1]) if near else None

    def _graph(self) -> LandmarkGraph:
        return self._spare.pop() if self._spare else LandmarkGraph(smooth=True, complexity=self.complexity)

    def _release(self, graph: LandmarkGraph) -> None:
        graph.reset()
        self._spare.append(graph)

    def close(self) -> None:
        for graph in [f.graph for f in self._followed] + self._spare:
            graph.close()
        self._finder.close()

    def __enter__(self) -> PeopleFollower:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def masked(rgb: np.ndarray, boxes: list[np.ndarray], margin: float = 0.1, keep: np.ndarray | None = None) -> np.ndarray:
    """A copy of the image with the boxes (enlarged by margin of their size on each side) filled with its mean
    colour, except within the box keep (as enlarged); the image itself when there are no boxes."""
    if not boxes:
        return rgb
    out = rgb.copy()
    fill = rgb[::16, ::16].reshape(-1, 3).mean(0).astype(np.uint8)  # the mean of every pixel costs 12 ms a frame
    for box in boxes:
        out[_region(box, margin, rgb.shape)] = fill
    if keep is not None:
        out[_region(keep, margin, rgb.shape)] = rgb[_region(keep, margin, rgb.shape)]
    return out


def _inside(point: np.ndarray, box: np.ndarray) -> bool:
    return bool(box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3])


def _centre(box: np.ndarray) -> np.ndarray:
    return (box[:2] + box[2:]) / 2


def body_region(box: np.ndarray) -> np.ndarray:
    """Where a person whose seen landmarks have this box is: a body reaches a little beyond them, and the head
    (hair, a hat) well above the eyes; MASK_MARGIN of the box's width on each side and of its height below,
    twice that above."""
    x0, y0, x1, y1 = box
    dx, dy = MASK_MARGIN * (x1 - x0), MASK_MARGIN * (y1 - y0)
    return np.array([x0 - dx, y0 - 2 * dy, x1 + dx, y1 + dy])


def _region(box: np.ndarray, margin: float, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """The array slices of a box enlarged by margin of its size on each side, cut at the image's edges."""
    x0, y0, x1, y1 = box
    dx, dy = margin * (x1 - x0), margin * (y1 - y0)
    return (slice(int(np.clip(y0 - dy, 0, shape[0])), int(np.clip(y1 + dy, 0, shape[0]))),
            slice(int(np.clip(x0 - dx, 0, shape[1])), int(np.clip(x1 + dx, 0, shape[1]))))
