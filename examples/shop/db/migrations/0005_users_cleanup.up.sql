-- release 2.4: clean up users.
-- BK209: the expand (email_address) and the contract (dropping legacy_flag) ship together.
ALTER TABLE users ADD COLUMN email_address text;
UPDATE users SET email_address = email;
-- BK202: release 2.3 still reads legacy_flag.
ALTER TABLE users DROP COLUMN legacy_flag;
-- BK203: release 2.3 still selects name.
ALTER TABLE users RENAME COLUMN name TO full_name;
