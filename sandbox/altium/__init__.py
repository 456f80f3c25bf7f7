"""A local Altium 365 / Nexar GraphQL stand-in (see ``server.AltiumSandbox``).

``model`` holds the data classes, ``seed`` the demo and generated data, ``activity`` the state
and activity API, ``resolvers`` the resolvers bound to the real SDL (queries, and the comment
mutations checked as Nexar checks them), ``faults`` fault injection,
``server`` the HTTP server and facade, and ``identity`` a local identity.nexar.com
(``IdentitySandbox``: OAuth2 sign-in issuing tokens the server accepts). Only the standard
library and graphql-core are used.
"""

from .faults import Faults
from .identity import IdentitySandbox
from .model import Project, Tenant, User, Workspace
from .seed import demo_workspace, generated_workspace
from .server import AltiumSandbox, RequestRecord

__all__ = [
    "AltiumSandbox",
    "Faults",
    "IdentitySandbox",
    "Project",
    "RequestRecord",
    "Tenant",
    "User",
    "Workspace",
    "demo_workspace",
    "generated_workspace",
]
