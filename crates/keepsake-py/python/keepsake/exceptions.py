"""Exceptions: every error git-keepsake raises is a ``KeepsakeError``.

The names of Keepsake 0.4.2's exceptions are kept, so ``except keepsake.exceptions.DoesNotExist``
works as before.
"""


class KeepsakeError(Exception):
    """Base class of every git-keepsake error."""


class DoesNotExist(KeepsakeError):
    """No experiment or checkpoint has that ID."""


class AmbiguousID(DoesNotExist):
    """An ID prefix matches more than one experiment or checkpoint."""


class ReadError(KeepsakeError):
    """Stored metadata could not be read."""


class WriteError(KeepsakeError):
    """Something could not be written."""


class StorageError(ReadError, WriteError):
    """The store failed or lacks data it should have."""


class CorruptData(ReadError):
    """Bytes read back from a store are not the ones recorded (size or hash differ)."""


class RepositoryConfigurationError(KeepsakeError):
    """keepsake.yaml or the repository URL is wrong."""


class IncompatibleRepositoryVersion(KeepsakeError):
    """The repository was written by a newer storage format."""


class CorruptedRepositorySpec(KeepsakeError):
    """repository.json cannot be read."""


class ConfigNotFound(RepositoryConfigurationError):
    """No keepsake.yaml, and not inside a git repository."""


class InvalidArgument(KeepsakeError, ValueError):
    """A bad argument: the message names the value."""


class InvalidID(DoesNotExist, InvalidArgument):
    """An ID or ID prefix that is not one (IDs are hexadecimal): it names nothing, so it is a
    ``DoesNotExist`` as in Keepsake 0.4.2, and a bad argument."""


class UnsafeArchive(KeepsakeError):
    """A tarball entry, tree entry or storage key would be written outside its target."""


class WouldOverwrite(KeepsakeError):
    """A checkout would overwrite files that differ."""


class InternalError(KeepsakeError):
    """A bug in git-keepsake (a worker thread died, a record failed to encode): please report it."""


class KeepsakeWarning(UserWarning):
    """What git-keepsake warns about (files left out of git, unreadable experiments), through
    Python's ``warnings``, so it can be filtered or turned into an error."""


class FrameworkMissing(KeepsakeError, ImportError):
    """A framework callback was created where its framework (Keras, Lightning, transformers) is
    not installed."""
