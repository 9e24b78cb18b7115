DROP INDEX products_title_key;
ALTER TABLE orders ALTER COLUMN shipped_at DROP NOT NULL;
ALTER TABLE products ALTER COLUMN sku TYPE varchar(64);
