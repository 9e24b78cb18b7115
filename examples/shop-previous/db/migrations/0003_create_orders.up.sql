-- release 2.3: orders
CREATE TABLE orders (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id),
    product_id  bigint NOT NULL REFERENCES products (id),
    status      text NOT NULL DEFAULT 'new',
    shipped_at  timestamptz,
    note        text
);
