-- release 2.4: tighten the catalogue and the orders.
-- BK204: release 2.3 writes SKUs up to 64 characters.
ALTER TABLE products ALTER COLUMN sku TYPE varchar(16);
-- BK205: release 2.3 creates orders with shipped_at NULL.
ALTER TABLE orders ALTER COLUMN shipped_at SET NOT NULL;
-- BK206: release 2.3 never checked titles for duplicates.
CREATE UNIQUE INDEX products_title_key ON products (title);
