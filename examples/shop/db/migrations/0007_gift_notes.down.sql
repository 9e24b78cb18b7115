-- BK208: rolling back deletes every gift note written since the deploy.
DROP TABLE gift_notes;
