"""Error types whose message is meant for the user, one line, naming the file."""


class DdridError(Exception):
    """Base class: the message is shown as-is to the user (CLI, GUI)."""


class ImageReadError(DdridError):
    """One file could not be used; the rest of the work goes on."""


class NoUsableImagesError(DdridError):
    """A whole input (folder, file list) produced no usable patch."""


class ModelFileError(DdridError):
    """A model file is missing, corrupt, forged or of another format version."""


class TrainingError(DdridError):
    """Training cannot go on (e.g. a loss became NaN or infinite)."""
