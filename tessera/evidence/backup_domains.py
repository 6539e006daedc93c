"""Where each file of an iTunes/Finder backup lived on the phone: backup domain -> device path.

A backup names each file by ``(domain, relativePath)``; the domain stands for a folder of the
phone's file system. The table follows the layout iOS gives these folders (the same table the
public backup-to-file-system tools use):

=============================  ===============================================================
domain                         device folder
=============================  ===============================================================
``HomeDomain``                 ``/private/var/mobile``
``MediaDomain``                ``/private/var/mobile``
``CameraRollDomain``           ``/private/var/mobile``
``KeyboardDomain``             ``/private/var/mobile``
``TonesDomain``                ``/private/var/mobile``
``HomeKitDomain``              ``/private/var/mobile``
``HealthDomain``               ``/private/var/mobile/Library``
``BooksDomain``                ``/private/var/mobile/Media/Books``
``RootDomain``                 ``/private/var/root``
``SystemPreferencesDomain``    ``/private/var/preferences``
``WirelessDomain``             ``/private/var/wireless``
``KeychainDomain``             ``/private/var/Keychains``
``ManagedPreferencesDomain``   ``/private/var/Managed Preferences``
``DatabaseDomain``             ``/private/var/db``
``InstallDomain``              ``/private/var/installd``
``MobileDeviceDomain``         ``/private/var/MobileDevice``
``AppDomain-<bundle>``         ``/private/var/mobile/Containers/Data/Application/<bundle>``
``AppDomainGroup-<group>``     ``/private/var/mobile/Containers/Shared/AppGroup/<group>``
``AppDomainPlugin-<plugin>``   ``/private/var/mobile/Containers/Data/PluginKitPlugin/<plugin>``
``SysContainerDomain-<id>``    ``/private/var/containers/Data/System/<id>``
``SysSharedContainerDomain-…`` ``/private/var/containers/Shared/SystemGroup/<id>``
=============================  ===============================================================

On the phone an app's container folder is named by a random UUID
(``…/AppGroup/694FBBC5-…/ChatStorage.sqlite``); a backup does not record that UUID, so the bundle or
group id stands in its place (``…/AppGroup/group.net.whatsapp.WhatsApp.shared/ChatStorage.sqlite``).
A domain the table does not know is not guessed: its files keep the domain as their top folder
(``/MyTestDomain/Media/Test.txt``), which no real device path starts with.
"""

from __future__ import annotations

MOBILE = "/private/var/mobile"

FIXED: dict[str, str] = {
    "HomeDomain": MOBILE,
    "MediaDomain": MOBILE,
    "CameraRollDomain": MOBILE,
    "KeyboardDomain": MOBILE,
    "TonesDomain": MOBILE,
    "HomeKitDomain": MOBILE,
    "HealthDomain": MOBILE + "/Library",
    "BooksDomain": MOBILE + "/Media/Books",
    "RootDomain": "/private/var/root",
    "SystemPreferencesDomain": "/private/var/preferences",
    "WirelessDomain": "/private/var/wireless",
    "KeychainDomain": "/private/var/Keychains",
    "ManagedPreferencesDomain": "/private/var/Managed Preferences",
    "DatabaseDomain": "/private/var/db",
    "InstallDomain": "/private/var/installd",
    "MobileDeviceDomain": "/private/var/MobileDevice",
}

#: Domains named ``<kind>-<identifier>``: the identifier becomes the container's folder name.
CONTAINERS: dict[str, str] = {
    "AppDomain": MOBILE + "/Containers/Data/Application",
    "AppDomainGroup": MOBILE + "/Containers/Shared/AppGroup",
    "AppDomainPlugin": MOBILE + "/Containers/Data/PluginKitPlugin",
    "SysContainerDomain": "/private/var/containers/Data/System",
    "SysSharedContainerDomain": "/private/var/containers/Shared/SystemGroup",
}


def domain_folder(domain: str) -> str:
    """The device folder of ``domain`` (see the table above); ``/<domain>`` when it is unknown."""
    if domain in FIXED:
        return FIXED[domain]
    kind, sep, ident = domain.partition("-")
    if sep and ident and kind in CONTAINERS and "/" not in ident:
        return f"{CONTAINERS[kind]}/{ident}"
    return "/" + domain.strip("/")


def device_path(domain: str, relative: str) -> str:
    """The device path of the backup file ``(domain, relative)``; the folder alone when empty."""
    folder = domain_folder(domain)
    rel = relative.strip("/")
    return f"{folder}/{rel}" if rel else folder


def candidates(path: str) -> list[tuple[str, str]]:
    """Every ``(domain, relativePath)`` that :func:`device_path` maps to ``path`` (the inverse, for
    reopening a stored locator without its raw path). Several domains share a folder."""
    out: list[tuple[str, str]] = []
    for domain, folder in FIXED.items():
        if path.startswith(folder + "/"):
            out.append((domain, path[len(folder) + 1 :]))
    for kind, folder in CONTAINERS.items():
        if path.startswith(folder + "/"):
            ident, _, rel = path[len(folder) + 1 :].partition("/")
            if ident:
                out.append((f"{kind}-{ident}", rel))
    top, _, rel = path.lstrip("/").partition("/")
    if top and domain_folder(top) == "/" + top:
        out.append((top, rel))
    return out
