CREATE UNIQUE INDEX products_title_key ON products (title);
