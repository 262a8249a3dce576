"""`handpose label`: a teacher model labels the user's own photos and videos into a COCO keypoints set.

teachers.py (the teacher interface, MediaPipe, the project's model), annotate.py (mirror check, TTA,
calibration applied), sources.py (photos, video frames),
writer.py (crops, journal, annotations.json / frames.json), command.py (the CLI and ``label()``).
"""
from .annotate import LabelledHand, label_image
from ...data.calibration import Calibration
from .command import LabelOptions, add_arguments, fit_calibration, label, run
from .teachers import MediaPipeTeacher, ModelTeacher, Teacher, TeacherHand, load_teacher

__all__ = ["Calibration", "LabelOptions", "LabelledHand", "MediaPipeTeacher", "ModelTeacher", "Teacher", "TeacherHand",
           "add_arguments", "fit_calibration", "label", "label_image", "load_teacher", "run"]
