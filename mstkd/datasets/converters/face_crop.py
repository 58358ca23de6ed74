"""Face crops of video frames with OpenCV's bundled Haar cascade.

The MST-Distill release crops RAVDESS faces with MTCNN (``facenet_pytorch``,
pretrained weights). mstkd uses the frontal-face Haar cascade that ships
inside ``opencv-python`` 4.x (``cv2.data.haarcascades``), so no download is
needed; the boxes differ somewhat from MTCNN's (Haar boxes are square and a
little tighter).

Per video: every selected frame is searched for faces and the largest one is
cropped. A frame with no detection reuses the box of the closest earlier
frame that had one (the release keeps the previous frame's box as well),
else of the closest later one; a video with no detection at all falls back
to a centred square crop of side ``min(H, W)``.
"""
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from mstkd.utils.errors import UserInputError

Box = Tuple[int, int, int, int]  # x1, y1, x2, y2 (exclusive), pixels
Detector = Callable[[np.ndarray], Sequence[Box]]

HAAR_CASCADE = 'haarcascade_frontalface_default.xml'


class HaarFaceDetector:
    """Frontal-face detector (OpenCV Haar cascade) on a downscaled copy.

    Args:
        cascade_path (str, optional): A cascade XML file. Defaults to
            ``cv2.data.haarcascades + 'haarcascade_frontalface_default.xml'``.
        detect_max_side (int): Frames are shrunk so that their longer side is
            at most this many pixels before detection (RAVDESS frames are
            1280x720; Haar at full size is ~4x slower for the same boxes).
            Defaults to 640.
        scale_factor (float): ``detectMultiScale`` pyramid step.
            Defaults to 1.1.
        min_neighbors (int): ``detectMultiScale`` minNeighbors. Defaults to 5.
        min_size_frac (float): Smallest face side as a fraction of the
            shorter (shrunk) frame side. Defaults to 0.1.
    """

    def __init__(self,
                 cascade_path: Optional[str] = None,
                 detect_max_side: int = 640,
                 scale_factor: float = 1.1,
                 min_neighbors: int = 5,
                 min_size_frac: float = 0.1):
        import cv2
        if cascade_path is None:
            cascade_path = cv2.data.haarcascades + HAAR_CASCADE
        self.cascade = cv2.CascadeClassifier(cascade_path)
        if self.cascade.empty():
            raise UserInputError(
                f'Cannot load the Haar cascade {cascade_path}: opencv-python '
                '4.x ships it in cv2.data (OpenCV 5 no longer does); '
                'install opencv-python>=4.8,<5.')
        self.detect_max_side = detect_max_side
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size_frac = min_size_frac

    def __call__(self, frame: np.ndarray) -> List[Box]:
        """Detect faces in one BGR frame.

        Args:
            frame (np.ndarray): ``[H, W, 3]`` uint8, BGR.

        Returns:
            list: Boxes ``(x1, y1, x2, y2)`` in the frame's pixels.
        """
        import cv2
        h, w = frame.shape[:2]
        scale = min(1.0, self.detect_max_side / max(h, w))
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if scale < 1.0:
            gray = cv2.resize(gray, (round(w * scale), round(h * scale)),
                              interpolation=cv2.INTER_AREA)
        side = max(1, int(min(gray.shape) * self.min_size_frac))
        found = self.cascade.detectMultiScale(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(side, side))
        boxes = []
        for x, y, bw, bh in (found if len(found) else []):
            x1, y1 = int(x / scale), int(y / scale)
            x2 = min(w, int(round((x + bw) / scale)))
            y2 = min(h, int(round((y + bh) / scale)))
            boxes.append((x1, y1, x2, y2))
        return boxes


def largest_box(boxes: Sequence[Box]) -> Optional[Box]:
    """The box of largest area (``None`` for no box)."""
    if not len(boxes):
        return None
    return max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))


def center_square(height: int, width: int) -> Box:
    """The centred square box of side ``min(height, width)``."""
    side = min(height, width)
    x1, y1 = (width - side) // 2, (height - side) // 2
    return (x1, y1, x1 + side, y1 + side)


def fill_missing_boxes(boxes: Sequence[Optional[Box]]) -> List[Optional[Box]]:
    """Give frames without a box the closest earlier box, else the closest
    later one (``None`` everywhere when no frame has a box)."""
    out = list(boxes)
    last = None
    for i, b in enumerate(out):
        if b is None:
            out[i] = last
        else:
            last = b
    nxt = None
    for i in range(len(out) - 1, -1, -1):
        if boxes[i] is not None:
            nxt = boxes[i]
        elif out[i] is None:
            out[i] = nxt
    return out


def crop_faces(frames: Sequence[np.ndarray],
               detector: Detector,
               size: int = 224) -> Tuple[np.ndarray, int]:
    """Crop the largest face of every frame and resize it.

    Args:
        frames (Sequence[np.ndarray]): BGR uint8 frames ``[H, W, 3]`` of one
            video (all the same size).
        detector (Callable): Frame -> list of boxes ``(x1, y1, x2, y2)``,
            e.g. :class:`HaarFaceDetector`.
        size (int): Output side (bilinear ``cv2.resize``, as the release).
            Defaults to 224.

    Returns:
        tuple: ``(crops, num_detected)``: ``[T, 3, size, size]`` uint8 BGR
        (channels first, the release layout) and the number of frames in
        which a face was found (0 means the centred-square fallback).
    """
    import cv2
    boxes = [largest_box(detector(f)) for f in frames]
    detected = sum(b is not None for b in boxes)
    boxes = fill_missing_boxes(boxes)
    out = np.empty((len(frames), 3, size, size), np.uint8)
    for i, (frame, box) in enumerate(zip(frames, boxes)):
        if box is None:
            box = center_square(*frame.shape[:2])
        x1, y1, x2, y2 = box
        crop = frame[y1:y2, x1:x2]
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR)
        out[i] = crop.transpose(2, 0, 1)
    return out, detected
