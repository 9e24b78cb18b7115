ALTER TABLE users RENAME COLUMN full_name TO name;
ALTER TABLE users ADD COLUMN legacy_flag integer;
ALTER TABLE users DROP COLUMN email_address;
