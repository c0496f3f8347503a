"""celcolor.io: decode and encode cuts (video, image folders, single images) one frame at a time.

Images here are ``H,W,3`` uint8 RGB numpy arrays. Outputs are written atomically,
timestamps and audio of a video input survive, and bounded queues let decode and
encode run beside the compute.
"""

from celcolor.io.frames import (
    VIDEO_EXTENSIONS,
    Frame,
    FrameSource,
    ImageSequenceSource,
    VideoSource,
    list_images,
    open_frames,
)
from celcolor.io.images import (
    IMAGE_EXTENSIONS,
    composite_on_white,
    natural_key,
    read_image,
    to_rgb8,
    write_image,
)
from celcolor.io.queues import BackgroundWorker, Prefetcher, prefetch
from celcolor.io.writer import (
    CODECS,
    VIDEO_OUTPUT_EXTENSIONS,
    FrameWriter,
    OutputKind,
    check_alpha_output,
    check_encoding,
    check_folder_spelling,
    check_output,
    make_folder,
    open_writer,
    output_kind,
    resolve_output,
    write_video,
)

__all__ = [
    "CODECS",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "VIDEO_OUTPUT_EXTENSIONS",
    "BackgroundWorker",
    "Frame",
    "FrameSource",
    "FrameWriter",
    "ImageSequenceSource",
    "OutputKind",
    "Prefetcher",
    "VideoSource",
    "check_alpha_output",
    "check_encoding",
    "check_folder_spelling",
    "check_output",
    "composite_on_white",
    "list_images",
    "make_folder",
    "natural_key",
    "open_frames",
    "open_writer",
    "output_kind",
    "prefetch",
    "read_image",
    "resolve_output",
    "to_rgb8",
    "write_image",
    "write_video",
]
