"""The ``pkcs11`` key provider: a non-extractable AES KEK in an HSM (SoftHSM2 in tests).

The only module that imports python-pkcs11, lazily, with an install hint. Wrapping uses
the unpadded RFC 3394 mechanism ``CKM_AES_KEY_WRAP`` (SoftHSM's padded mechanism code
differs from production HSMs), so a blob wrapped by the HSM unwraps with
``cryptography``'s ``aes_key_unwrap`` under the same key and vice versa. A data key only
ever exists in the HSM as a session object that is destroyed right after use.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from hdh_migrate.errors import AuthError, IntegrityAuthError, UsageError
from hdh_migrate.secrets import SecretRef, is_reference

_T = TypeVar("_T")
_LIBS: dict[str, Any] = {}
_LIBS_LOCK = threading.Lock()
_SESSIONS = [0]  # sessions this process opened and has not closed (open_sessions())
# PKCS#11 login state is per process and token: a second session on a logged-in token
# cannot C_Login again. Remember a keyed digest of the PIN that logged in, so a later
# provider with a different PIN is still refused.
_PIN_KEY = os.urandom(32)
_LOGINS: dict[tuple[str, str], bytes] = {}
KEK_ATTRIBUTES = (
    "LOCAL",
    "NEVER_EXTRACTABLE",
    "ALWAYS_SENSITIVE",
    "EXTRACTABLE",
    "SENSITIVE",
    "WRAP",
    "UNWRAP",
    "TOKEN",
)


def _pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError:
        raise UsageError(
            "the pkcs11 key provider needs python-pkcs11",
            hint="pip install 'hdh-migrate[hsm]'",
        ) from None
    return pkcs11


def load_library(module: str) -> Any:
    """The PKCS#11 library at ``module``, loaded and initialized once per process."""
    p11 = _pkcs11()
    with _LIBS_LOCK:
        if module not in _LIBS:
            try:
                _LIBS[module] = p11.lib(module)
            except p11.PKCS11Error as exc:
                raise AuthError(
                    f"cannot load PKCS#11 module {module}: {type(exc).__name__}",
                    hint="check the module path (e.g. /usr/lib/softhsm/libsofthsm2.so)",
                ) from None
        return _LIBS[module]


def reload_library(module: str) -> None:
    """Finalize and re-initialize a loaded library so it re-reads its configuration (e.g. a
    new SOFTHSM2_CONF). Every open session on it becomes invalid. For tests."""
    with _LIBS_LOCK:
        if module in _LIBS:
            _LIBS[module].reinitialize()


def _pin_value(pin: SecretRef | str) -> str:
    if isinstance(pin, SecretRef):
        return pin.reveal()
    return SecretRef.parse(pin).reveal() if is_reference(pin) else pin


class _TokenSession:
    """One logged-in session on a token, serialized by a lock (PKCS#11 sessions are not
    safe for concurrent use). A session that went stale (library re-initialized, HSM
    restarted) is reopened once, with the PIN reference resolved again. ``close()`` ends
    the session. Subclasses find their key objects in ``_find_keys``."""

    def __init__(
        self, module: str, token: str, label: str, pin: SecretRef | str, slot: int | None = None
    ) -> None:
        self._p11 = _pkcs11()
        self.module, self.token_label, self.key_label = module, token, label
        self.ref = f"pkcs11:token={token};label={label}"
        self._lock = threading.Lock()
        self.slot, self._pin = slot, pin
        self._stale = (
            self._p11.SessionHandleInvalid,
            self._p11.SessionClosed,
            self._p11.ObjectHandleInvalid,
            self._p11.KeyHandleInvalid,
            self._p11.DeviceRemoved,
            self._p11.TokenNotPresent,
            self._p11.UserNotLoggedIn,
        )
        self._session: Any = None
        try:
            self._connect()
        except BaseException:
            self.close()  # logged in but no key: the session is not left open
            raise

    def _connect(self) -> None:
        self._token = self._find_token(load_library(self.module))
        replacing = self._session is not None  # a stale session the library dropped
        self._session = self._login(_pin_value(self._pin))
        if not replacing:
            with _LIBS_LOCK:
                _SESSIONS[0] += 1
        self._find_keys()

    def _find_keys(self) -> None:
        raise NotImplementedError

    def _run(self, operation: Callable[[], _T]) -> _T:
        """Run ``operation`` under the lock, reconnecting once if the session went stale."""
        with self._lock:
            if self._session is None:
                raise AuthError(f"{self.ref}: the key provider is closed")
            try:
                return operation()
            except self._stale:
                self._connect()
                return operation()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.ref})"

    def _find_token(self, lib: Any) -> Any:
        try:
            if self.slot is not None:
                return self._token_in_slot(lib)
            return lib.get_token(token_label=self.token_label)
        except (self._p11.NoSuchToken, self._p11.MultipleTokensReturned):
            raise AuthError(
                f"PKCS#11 token {self.token_label!r} not found (or not unique) in {self.module}",
                hint="list tokens with `softhsm2-util --show-slots` / check SOFTHSM2_CONF",
            ) from None

    def _token_in_slot(self, lib: Any) -> Any:
        for slot in lib.get_slots(token_present=True):
            if slot.slot_id == self.slot:
                token = slot.get_token()
                if token.label == self.token_label:
                    return token
        raise self._p11.NoSuchToken(f"slot {self.slot}")

    def _login(self, pin: str) -> Any:
        p11 = self._p11
        digest = hmac.new(_PIN_KEY, pin.encode("utf-8"), hashlib.sha256).digest()
        try:
            session = self._token.open(user_pin=pin)
            _LOGINS[(self.module, self.token_label)] = digest
            return session
        except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange):
            raise AuthError(
                f"PKCS#11 token {self.token_label!r} refused the PIN",
                hint="check the PIN reference (repeated failures may lock the token)",
            ) from None
        except p11.PinLocked:
            raise AuthError(f"PKCS#11 token {self.token_label!r}: PIN locked") from None
        except p11.UserAlreadyLoggedIn:  # login is per process: another provider holds it
            known = _LOGINS.get((self.module, self.token_label))
            if known is not None and not hmac.compare_digest(known, digest):
                raise AuthError(
                    f"PKCS#11 token {self.token_label!r} refused the PIN",
                    hint="it differs from the PIN this process logged in with",
                ) from None
            return self._token.open()

    def token_info(self) -> dict[str, Any]:
        """Label, serial, manufacturer and model of the token (for custody records)."""
        return {
            "label": self._token.label,
            "serial": _text(self._token.serial),
            "manufacturer": self._token.manufacturer_id,
            "model": self._token.model,
        }

    def close(self) -> None:
        with self._lock:
            session, self._session = self._session, None
            if session is not None:
                with _LIBS_LOCK:
                    _SESSIONS[0] -= 1
                with contextlib.suppress(self._p11.PKCS11Error):
                    session.close()


class Pkcs11KeyProvider(_TokenSession):
    """RFC 3394 wrap/unwrap by an HSM-resident AES KEK found by token and key label."""

    def _find_keys(self) -> None:
        self._kek = self._find_kek()

    def _find_kek(self) -> Any:
        p11 = self._p11
        try:
            return self._session.get_key(
                object_class=p11.ObjectClass.SECRET_KEY,
                key_type=p11.KeyType.AES,
                label=self.key_label,
            )
        except (p11.NoSuchKey, p11.MultipleObjectsReturned):
            self._session.close()
            raise AuthError(
                f"no unique AES key labelled {self.key_label!r} on token {self.token_label!r}",
                hint="check the key label (`pkcs11-tool --list-objects`)",
            ) from None

    def wrap(self, dek: bytes) -> bytes:
        p11 = self._p11
        attrs = self._session_key_template()
        attrs.update({p11.Attribute.CLASS: p11.ObjectClass.SECRET_KEY})
        attrs.update({p11.Attribute.KEY_TYPE: p11.KeyType.AES, p11.Attribute.VALUE: dek})

        def operation() -> bytes:
            key = self._session.create_object(attrs)
            try:
                return bytes(self._kek.wrap_key(key, mechanism=p11.Mechanism.AES_KEY_WRAP))
            finally:
                key.destroy()

        try:
            return self._run(operation)
        except p11.PKCS11Error as exc:
            raise AuthError(f"{self.ref} refused to wrap: {type(exc).__name__}") from None

    def unwrap(self, blob: bytes) -> bytes:
        p11 = self._p11

        def operation() -> bytes:
            key = self._kek.unwrap_key(
                p11.ObjectClass.SECRET_KEY,
                p11.KeyType.AES,
                blob,
                mechanism=p11.Mechanism.AES_KEY_WRAP,
                template=self._session_key_template(),
            )
            try:
                return bytes(key[p11.Attribute.VALUE])
            finally:
                key.destroy()

        try:
            return self._run(operation)
        except p11.PKCS11Error:
            raise IntegrityAuthError(
                f"the data key does not unwrap under {self.ref}",
                hint="wrong KEK, or the envelope was modified",
            ) from None

    def _session_key_template(self) -> dict[Any, Any]:
        a = self._p11.Attribute
        return {a.TOKEN: False, a.SENSITIVE: False, a.EXTRACTABLE: True}

    def describe(self) -> dict[str, Any]:
        a = self._p11.Attribute
        attrs = self._run(
            lambda: {name.lower(): bool(self._kek[getattr(a, name)]) for name in KEK_ATTRIBUTES}
        )
        return {
            "provider": "pkcs11",
            "reference": self.ref,
            "module": self.module,
            "key_label": self.key_label,
            "key_length_bits": int(self._kek.key_length),
            "attributes": attrs,
            "token": self.token_info(),
        }


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").strip()
    return str(value).strip()


# record name -> PKCS#11 attribute (manifest field names may not contain "token").
SIGNING_ATTRIBUTES = {
    "local": "LOCAL",
    "never_extractable": "NEVER_EXTRACTABLE",
    "always_sensitive": "ALWAYS_SENSITIVE",
    "extractable": "EXTRACTABLE",
    "sensitive": "SENSITIVE",
    "sign": "SIGN",
    "persistent": "TOKEN",
}
ED25519_OID = "1.3.101.112"


class Pkcs11Ed25519Signer(_TokenSession):
    """Signs manifest checkpoints with an Ed25519 private key that never leaves the HSM
    (CKK_EC_EDWARDS, CKM_EDDSA). Implements ``hdh_migrate.integrity.Signer``; ``custody()``
    gives the token and key attributes that the manifest's run record carries.
    ``shown_module``/``shown_ref`` (the plan's own text, when it used references) replace
    the resolved values in ``key_id`` and the custody record."""

    shown_module: str | None = None
    shown_ref: str | None = None

    def _find_keys(self) -> None:
        p11 = self._p11
        a = p11.Attribute
        found = []
        for cls in (p11.ObjectClass.PRIVATE_KEY, p11.ObjectClass.PUBLIC_KEY):
            template = {a.CLASS: cls, a.KEY_TYPE: p11.KeyType.EC_EDWARDS, a.LABEL: self.key_label}
            objects = list(self._session.get_objects(template))
            if len(objects) != 1:
                self._session.close()
                raise AuthError(
                    f"no unique Ed25519 {cls.name.lower().replace('_', ' ')} labelled "
                    f"{self.key_label!r} on token {self.token_label!r}",
                    hint="create it in the HSM (`hdh-migrate manifest keygen --pkcs11 …`)",
                )
            found.append(objects[0])
        self._private, public = found
        self._public = _ec_point(bytes(public[a.EC_POINT]))

    @property
    def key_id(self) -> str:
        return self.shown_ref or self.ref

    def public_key_bytes(self) -> bytes:
        return self._public

    def sign(self, message: bytes) -> bytes:
        p11 = self._p11
        try:
            return self._run(
                lambda: bytes(self._private.sign(message, mechanism=p11.Mechanism.EDDSA))
            )
        except p11.PKCS11Error as exc:
            raise AuthError(f"{self.ref} refused to sign: {type(exc).__name__}") from None

    def custody(self) -> dict[str, Any]:
        """Token serial and label, key label, and the private key's custody attributes."""
        a = self._p11.Attribute
        attrs = self._run(
            lambda: {
                name: bool(self._private[getattr(a, attr)])
                for name, attr in SIGNING_ATTRIBUTES.items()
            }
        )
        return {
            "provider": "pkcs11",
            "reference": self.key_id,
            "module": self.shown_module or self.module,
            "algorithm": "Ed25519",
            "attributes": attrs,
            "device": self.token_info(),
        }


def _ec_point(value: bytes) -> bytes:
    """The raw 32-byte key from CKA_EC_POINT (a DER OCTET STRING, or raw on some tokens)."""
    if len(value) == 34 and value[:2] == b"\x04\x20":
        return value[2:]
    if len(value) == 32:
        return value
    raise AuthError("the HSM returned an Ed25519 public key in an unknown encoding")


def generate_ed25519_signing_key(
    module: str, token: str, label: str, pin: SecretRef | str, *, exist_ok: bool = False
) -> bytes:
    """Create a non-extractable, sensitive Ed25519 key pair on the token (token objects,
    generated inside the HSM, so LOCAL and NEVER_EXTRACTABLE hold); return the raw public
    key. UsageError when a key with that label exists, unless ``exist_ok``: then the
    existing key pair's public key (idempotent set-up, e.g. a rehearsal's signing key)."""
    p11 = _pkcs11()
    from pkcs11.util.ec import encode_named_curve_parameters

    a = p11.Attribute
    lib = load_library(module)
    try:
        with _open_rw(p11, module, lib.get_token(token_label=token), _pin_value(pin)) as session:
            existing = {a.LABEL: label, a.KEY_TYPE: p11.KeyType.EC_EDWARDS}
            if list(session.get_objects(existing)):
                if not exist_ok:
                    raise UsageError(f"token {token!r} already holds an Ed25519 key {label!r}")
                publics = list(
                    session.get_objects({**existing, a.CLASS: p11.ObjectClass.PUBLIC_KEY})
                )
                if len(publics) != 1:
                    raise AuthError(
                        f"token {token!r}: {len(publics)} Ed25519 public keys labelled {label!r}",
                        hint="keep one key pair per label",
                    )
                return _ec_point(bytes(publics[0][a.EC_POINT]))
            public, _ = session.generate_keypair(
                p11.KeyType.EC_EDWARDS,
                mechanism=p11.Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
                public_template={
                    a.EC_PARAMS: encode_named_curve_parameters(ED25519_OID),
                    a.TOKEN: True,
                    a.VERIFY: True,
                    a.LABEL: label,
                },
                private_template={
                    a.TOKEN: True,
                    a.SIGN: True,
                    a.SENSITIVE: True,
                    a.EXTRACTABLE: False,
                    a.PRIVATE: True,
                    a.LABEL: label,
                },
            )
            return _ec_point(bytes(public[a.EC_POINT]))
    except p11.PKCS11Error as exc:
        raise AuthError(
            f"cannot create the Ed25519 key on {token!r}: {type(exc).__name__}"
        ) from None


def _open_rw(p11: Any, module: str, token: Any, pin: str) -> Any:
    """A read-write session logged in as the user. Login is per process: when a provider
    of this process is already logged in (with this same PIN), the session shares it."""
    try:
        return token.open(user_pin=pin, rw=True)
    except p11.UserAlreadyLoggedIn:
        known = _LOGINS.get((module, token.label))
        digest = hmac.new(_PIN_KEY, pin.encode("utf-8"), hashlib.sha256).digest()
        if known is not None and not hmac.compare_digest(known, digest):
            raise AuthError(
                f"PKCS#11 token {token.label!r} refused the PIN",
                hint="it differs from the PIN this process logged in with",
            ) from None
        return token.open(rw=True)


def open_sessions() -> int:
    """PKCS#11 sessions providers of this process opened and have not closed yet: what a
    long-lived process (or a test running a plan many times) watches return to its start."""
    with _LIBS_LOCK:
        return _SESSIONS[0]
