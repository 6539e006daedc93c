"""dfVFS's bottom layer (the image file on the examiner's disk) opened the way all evidence is opened.

dfVFS's own ``OSFile`` uses a plain ``open()``, which updates the image's access time and follows
links; and for an image directly on disk its EWF and split-raw layers let libewf/libsmraw open the
segment files by name (the same plain open, in C). Here the OS layer opens with :func:`open_readonly`
and the EWF and raw layers always go through it (the path dfVFS itself takes for an image inside
another layer), so the whole stack is read-only with ``O_NOATIME``. The replacement is process-wide:
Tessera is dfVFS's only user in its process, and no caller wants the other behaviour.
"""

from __future__ import annotations

import os
from typing import Any

import pyewf
import pysmraw
from dfvfs.file_io import ewf_file_io, os_file_io, raw_file_io
from dfvfs.lib import errors, ewf_helper, raw_helper
from dfvfs.resolver import resolver
from dfvfs.resolver_helpers import ewf_resolver_helper, manager, os_resolver_helper, raw_resolver_helper

from tessera.evidence.base import open_readonly


class ReadOnlyOSFile(os_file_io.OSFile):
    """An image file opened with the project's read-only, no-follow, no-atime helper."""

    def _Open(self) -> None:  # noqa: N802 - dfVFS's interface
        if self._path_spec.HasParent():
            raise errors.PathSpecError("Unsupported path specification with parent.")
        location = getattr(self._path_spec, "location", None)
        if location is None:
            raise errors.PathSpecError("Path specification missing location.")
        handle = open_readonly(location)
        self._file_object = handle
        self._size = os.fstat(handle.fileno()).st_size


class ReadOnlyOSResolverHelper(os_resolver_helper.OSResolverHelper):
    def NewFileObject(self, resolver_context: Any, path_spec: Any) -> ReadOnlyOSFile:  # noqa: N802
        return ReadOnlyOSFile(resolver_context, path_spec)


def _segments(io: Any, glob: Any, handle: Any) -> Any:
    """A libewf/libsmraw handle over file objects of every segment, opened through dfVFS."""
    if not io._path_spec.HasParent():
        raise errors.PathSpecError("Unsupported path specification without parent.")
    file_system = resolver.Resolver.OpenFileSystem(
        io._path_spec.parent, resolver_context=io._resolver_context
    )
    specs = glob(file_system, io._path_spec)
    if not specs:
        return None
    for spec in specs:
        io._file_objects.append(resolver.Resolver.OpenFileObject(spec, resolver_context=io._resolver_context))
    handle.open_file_objects(io._file_objects)
    return handle


class SegmentedEWFFile(ewf_file_io.EWFFile):
    def _OpenFileObject(self, path_spec: Any) -> Any:  # noqa: N802 - dfVFS's interface
        return _segments(self, ewf_helper.EWFGlobPathSpec, pyewf.handle())


class SegmentedRawFile(raw_file_io.RawFile):
    def _OpenFileObject(self, path_spec: Any) -> Any:  # noqa: N802 - dfVFS's interface
        return _segments(self, raw_helper.RawGlobPathSpec, pysmraw.handle())


class SegmentedEWFResolverHelper(ewf_resolver_helper.EWFResolverHelper):
    def NewFileObject(self, resolver_context: Any, path_spec: Any) -> SegmentedEWFFile:  # noqa: N802
        return SegmentedEWFFile(resolver_context, path_spec)


class SegmentedRawResolverHelper(raw_resolver_helper.RawResolverHelper):
    def NewFileObject(self, resolver_context: Any, path_spec: Any) -> SegmentedRawFile:  # noqa: N802
        return SegmentedRawFile(resolver_context, path_spec)


def install() -> None:
    """Route dfVFS's OS, EWF and raw layers through :func:`open_readonly` (idempotent)."""
    for helper in (ReadOnlyOSResolverHelper(), SegmentedEWFResolverHelper(), SegmentedRawResolverHelper()):
        current = manager.ResolverHelperManager.GetHelper(helper.type_indicator)
        if type(current) is type(helper):
            continue
        manager.ResolverHelperManager.DeregisterHelper(current)
        manager.ResolverHelperManager.RegisterHelper(helper)


install()
