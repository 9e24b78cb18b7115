-- release 2.1: customers
CREATE TABLE users (
    id          bigserial PRIMARY KEY,
    email       varchar(255) NOT NULL,
    name        text,
    legacy_flag integer,
    created_at  timestamptz NOT NULL DEFAULT now()
);
