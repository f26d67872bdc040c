-- Each avatar upload stores its bytes under a key of its own, which the row names: with
-- keys by content hash alone, a removal racing a re-upload of the same image deleted the
-- bytes the row named again. NULL for avatars stored before, under
-- users/{user}/avatar/{sha256}.
ALTER TABLE users ADD COLUMN avatar_key TEXT;
