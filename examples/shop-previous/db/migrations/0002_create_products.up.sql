-- release 2.2: the catalogue
CREATE TABLE products (
    id          bigserial PRIMARY KEY,
    sku         varchar(64) NOT NULL,
    title       text NOT NULL,
    price_cents integer NOT NULL,
    stock       integer
);
