"""The errors users see, each with the exit code the CLI returns for it. The CLI and the API map them
once each (cli/main.py, service/api/handlers.py); everything else raises them."""
from __future__ import annotations


class PolicyTaggerError(Exception):
    """Something the user can fix; the message says what and how."""
    exit_code = 1


class UsageError(PolicyTaggerError):
    """A wrong option, setting or combination of them."""
    exit_code = 2


class ModelError(PolicyTaggerError):
    """A model folder that cannot be used; the message says why and what to do."""
    exit_code = 2


class ModelMissingError(ModelError):
    """The model folder does not exist or lacks the files a trained model has."""


class ModelIntegrityError(ModelError):
    """The model's files do not match its manifest, or its labels differ from the project's."""


class InputError(PolicyTaggerError):
    """Input that cannot be read; the message names the file and, where there is one, the line."""
    exit_code = 3
