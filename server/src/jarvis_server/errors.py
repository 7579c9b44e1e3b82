"""The root of the server's exceptions: catch `JarvisServerError` to catch any of them.

    JarvisServerError
    ├── SettingsError                    core.config: a setting the server cannot use
    ├── DatabaseURLError (ValueError)    core.db: a database URL the server cannot use
    ├── IdentityKeyError                 identity: the identity key file cannot be used
    ├── StorageError                     storage: the storage directory cannot be used
    │   └── StorageRootError             reconcile: the root looks unmounted or foreign
    ├── RejectedFile                     storage: an upload failed the caller's check
    │   └── ImageRefused                 imagecheck: not an image this server keeps
    ├── DecodeBusy                       decodegate: a device has too many uploads waiting
    ├── QueryError (ValueError)          textquery: a search query that cannot be searched
    └── ProblemError                     problems: answer this request with a problem document

`StartupError` (cli) is click's, so the command line prints it as one line and exits 1.
"""

from __future__ import annotations

__all__ = ["JarvisServerError"]


class JarvisServerError(Exception):
    """The server could not do what was asked; the message says what to do."""
