-- Schema version 16 (SQLite): a follow-up threads under the message it follows up.
--
-- `follows_up_message_id` names the sent message a draft (and the message its approval
-- places) follows up: "Send an update" or "Send the all-clear" from a message's page.
-- Each account's post of it is a reply to that account's nearest post of the chain still
-- standing, where the platform threads.

ALTER TABLE drafts ADD COLUMN follows_up_message_id INTEGER REFERENCES messages (id);
ALTER TABLE messages ADD COLUMN follows_up_message_id INTEGER REFERENCES messages (id);
