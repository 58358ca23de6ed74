"""Reading selected frames of a video file with OpenCV."""
import os.path as osp
from typing import Dict, Iterable, Tuple

import numpy as np

from mstkd.utils.errors import DataNotFoundError, UserInputError


def read_frames(path: str,
                indices: Iterable[int],
                keep_last: bool = False) -> Tuple[Dict[int, np.ndarray], int]:
    """Decode a video from its start and keep the frames at ``indices``.

    Frames are read sequentially (seeking is not frame-accurate for every
    codec) and decoding stops after the largest requested index.

    Args:
        path (str): A video file ``cv2.VideoCapture`` can open.
        indices (Iterable[int]): 0-based frame numbers to keep.
        keep_last (bool): When the video ends before the largest requested
            index, also return its last frame (under its index).

    Returns:
        tuple: ``(frames, num_read)``: ``{index: BGR uint8 [H, W, 3]}`` for
        every requested index that exists, and the number of frames decoded
        (smaller than ``max(indices) + 1`` when the video is shorter).

    Raises:
        DataNotFoundError: The file does not exist.
        UserInputError: OpenCV cannot open it.
    """
    import cv2
    if not osp.isfile(path):
        raise DataNotFoundError(f'Video file not found: {path}')
    wanted = set(int(i) for i in indices)
    last = max(wanted) if wanted else -1
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise UserInputError(
            f'OpenCV cannot open the video {path} (corrupt file, or a codec '
            'this OpenCV build lacks).')
    frames = {}
    count = 0
    previous = None
    try:
        while count <= last:
            if not cap.grab():
                break
            if count in wanted or keep_last:
                ok, frame = cap.retrieve()
                if not ok:
                    break
                if count in wanted:
                    frames[count] = frame
                previous = frame
            count += 1
    finally:
        cap.release()
    if keep_last and count <= last and previous is not None:
        frames[count - 1] = previous
    return frames, count


def video_fps(path: str) -> float:
    """Frames per second stored in a video's header (0 when unknown)."""
    import cv2
    cap = cv2.VideoCapture(path)
    try:
        return float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    finally:
        cap.release()
