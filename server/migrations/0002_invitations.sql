-- humansync-server registry, version 2: one-time invitations (HS-INV-1..6).
-- An invitation is an Ed25519 key pair; only its public key (the id) is stored here, the secret
-- key lives in the link alone. Rows are kept after use, expiry or revocation for the audit trail.
CREATE TABLE invitations (
    id            TEXT    PRIMARY KEY,     -- lowercase hex of the invitation's public key
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    minted_by     TEXT    NOT NULL,        -- 'host' (the CLI) or the minting device's hex id
    used_at_ms    INTEGER,                 -- set once, when redeemed
    used_by       TEXT,                    -- the device that redeemed it
    revoked_at_ms INTEGER                  -- set by `invites revoke`
);
