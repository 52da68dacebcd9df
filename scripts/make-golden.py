#!/usr/bin/env python3
"""Writes Tests/CredentialVaultTests/Golden/vectors.json from an independent implementation of the record and
key-slot formats (PyNaCl over libsodium), so the Swift tests compare against bytes that Swift did not produce.

    pip install pynacl && python3 scripts/make-golden.py
"""
import json, pathlib
import nacl.bindings as b
import nacl.pwhash.argon2id as argon2id

def be(n, width): return n.to_bytes(width, "big")
def seal(pt, ad, nonce, key): return b.crypto_aead_xchacha20poly1305_ietf_encrypt(pt, ad, nonce, key)

vault_id = bytes(range(0xA0, 0xB0))
data_key = bytes(range(32))
key_id = 7
out = {"vault_id": vault_id.hex(), "data_key": data_key.hex(), "key_id": key_id}

# Account metadata bound by format-2 records (DESIGN §3): generation i64 | fields bitmask u8 | mode | client id |
# token URL | scopes present u8 | scopes, strings as u32 length + UTF-8.
def lp(text): return be(len(text.encode()), 4) + text.encode()
metadata = {"mode": "refresh-token", "client_id": "acme-public", "token_url": "https://account.sendcloud.com/oauth2/token",
            "scopes": "api offline_access", "generation": 3, "fields": [1, 2, 3]}
def metadata_ad(m):
    ad = be(m["generation"], 8) + bytes([sum(1 << f for f in m["fields"])])
    ad += lp(m["mode"]) + lp(m["client_id"]) + lp(m["token_url"])
    ad += b"\x00" if m["scopes"] is None else b"\x01" + lp(m["scopes"])
    return ad
out["metadata"] = metadata

# Records: version | nonce | ct. AD = "SCVR" | version | vault id | key id u32 | field u8 | len u16 | name, then (version
# 2) the metadata. Version 1 ("legacy") records are what vaults of format 1 hold.
for version, key in [(2, "records"), (1, "legacy_records")]:
    records = []
    for name, field, plaintext, nonce in [
        ("acme-shop", 1, b"client-secret-0123", bytes(range(0x40, 0x58))),
        ("acme-shop", 2, b"rt-0123456789abcdef", bytes(range(0x41, 0x59))),
        ("bolt@store.example", 3, b"eyJhbGciOi.access.token", bytes(range(0x42, 0x5A))),
    ]:
        ad = b"SCVR" + bytes([version]) + vault_id + be(key_id, 4) + bytes([field]) + be(len(name), 2) + name.encode()
        if version == 2:
            ad += metadata_ad(metadata)
        sealed = bytes([version]) + nonce + seal(plaintext, ad, nonce, data_key)
        records.append({"account": name, "field": field, "plaintext": plaintext.hex(), "nonce": nonce.hex(),
                        "sealed": sealed.hex()})
    out[key] = records

# Key slots: version 1 | nonce | wrapped data key.
passphrase, salt, ops, mem = b"correct horse battery staple", bytes(range(0x10, 0x20)), 2, 65536
wrapping = argon2id.kdf(32, passphrase, salt, opslimit=ops, memlimit=mem)
nonce = bytes(range(0x60, 0x78))
ad = b"SCVK" + b"\x01" + vault_id + be(key_id, 4) + b"\x01" + salt + be(ops, 8) + be(mem, 8)
out["passphrase_slot"] = {"passphrase": passphrase.hex(), "salt": salt.hex(), "ops_limit": ops, "mem_limit": mem,
                          "wrapping_key": wrapping.hex(), "nonce": nonce.hex(),
                          "wrapped_key": (b"\x01" + nonce + seal(data_key, ad, nonce, wrapping)).hex()}
key_file_key = bytes(range(0x80, 0xA0))
nonce = bytes(range(0x61, 0x79))
ad = b"SCVK" + b"\x01" + vault_id + be(key_id, 4) + b"\x02"
out["key_file_slot"] = {"key": key_file_key.hex(), "nonce": nonce.hex(),
                        "wrapped_key": (b"\x01" + nonce + seal(data_key, ad, nonce, key_file_key)).hex()}

path = pathlib.Path(__file__).resolve().parent.parent / "Tests/CredentialVaultTests/Golden/vectors.json"
path.write_text(json.dumps(out, indent=2) + "\n")
print("wrote", path)
