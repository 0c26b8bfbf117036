"""A registry that wants credentials: refused without, served with (basic auth)."""

from __future__ import annotations

import io

import pytest

from darse.image import reference
from darse.image.importer import import_image
from darse.image.pull import pull
from darse.image.push import push
from darse.image.registry import Credentials, Registry, Unauthorized
from darse.image.store import ImageStore
from tests.image.conftest import RegistryServer
from tests.ocilayout import tar_of_entries

GOOD = Credentials("darse", "s3cret")


def test_basic_auth_push_pull_login(auth_registry: RegistryServer, store: ImageStore) -> None:
    image_id = import_image(store, io.BytesIO(tar_of_entries([("f", "file", "x")])),
                            f"{auth_registry.host}/private/app:1")
    ref = reference.parse(f"{auth_registry.host}/private/app:1")
    with pytest.raises(Unauthorized):
        push(store, ref)
    push(store, ref, GOOD)
    other = ImageStore(store.root + "-other")
    with pytest.raises(Unauthorized):
        pull(other, ref)
    assert pull(other, ref, credentials=GOOD) == image_id
    reg = Registry(auth_registry.host, store.registry_config, GOOD)
    reg.check_login()
    reg.close()
    bad = Registry(auth_registry.host, store.registry_config, Credentials("darse", "wrong"))
    with pytest.raises(Unauthorized):
        bad.check_login()
    bad.close()
