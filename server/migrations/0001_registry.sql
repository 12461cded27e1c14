-- humansync-server registry, version 1.
-- Every registry record the server (the anchor) signed, in signing order (HS-REG-4: records are
-- never removed). UNIQUE (device, kind) enforces HS-REG-11 across processes: at most one Device
-- and one Revoked record per device id, even when the CLI and the server write concurrently.
CREATE TABLE records (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    key    TEXT    NOT NULL UNIQUE,        -- lowercase hex BLAKE3(postcard(SignedRecord)) (HS-REG-2)
    device TEXT    NOT NULL,               -- lowercase hex device id
    kind   TEXT    NOT NULL CHECK (kind IN ('device', 'revoked')),
    at_ms  INTEGER NOT NULL,               -- paired_at_ms or revoked_at_ms
    record BLOB    NOT NULL,               -- postcard(SignedRecord), exactly as signed
    UNIQUE (device, kind)
);

-- Server settings: the argon2id PHC string of the password (HS-PAIR-1), never the password.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
