CREATE TABLE products (
    id bigint PRIMARY KEY,
    title text NOT NULL,
    sku text NOT NULL,
    price integer NOT NULL
);
