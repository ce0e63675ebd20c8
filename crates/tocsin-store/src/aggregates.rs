//! The store's API by aggregate, as atuin splits its database: `store.outbox()`,
//! `store.drafts()`, `store.accounts()`, ... for reads and one-operation transactions, and
//! `tx.outbox()`, ... for the same operations inside a transaction the caller holds. Each
//! handle only borrows the store or the transaction; every write appends its audit entry in
//! the transaction it runs in.

use crate::tx::Tx;
use crate::Store;

macro_rules! aggregate {
    ($accessor:ident, $handle:ident, $what:literal) => {
        #[doc = concat!("Reads on ", $what, ".")]
        #[derive(Debug, Clone, Copy)]
        pub struct $handle<'s> {
            pub(crate) store: &'s Store,
        }

        impl Store {
            #[doc = concat!("Reads on ", $what, ".")]
            pub fn $accessor(&self) -> $handle<'_> {
                $handle { store: self }
            }
        }
    };
    ($accessor:ident, $handle:ident, $tx_handle:ident, $what:literal) => {
        #[doc = concat!("Reads and one-operation transactions on ", $what, ".")]
        #[derive(Debug, Clone, Copy)]
        pub struct $handle<'s> {
            pub(crate) store: &'s Store,
        }

        #[doc = concat!("Changes to ", $what, " inside a transaction.")]
        pub struct $tx_handle<'t, 's> {
            pub(crate) tx: &'t mut Tx<'s>,
        }

        impl Store {
            #[doc = concat!("Reads and one-operation transactions on ", $what, ".")]
            pub fn $accessor(&self) -> $handle<'_> {
                $handle { store: self }
            }
        }

        impl<'s> Tx<'s> {
            #[doc = concat!("Changes to ", $what, " in this transaction.")]
            pub fn $accessor(&mut self) -> $tx_handle<'_, 's> {
                $tx_handle { tx: self }
            }
        }
    };
}

aggregate!(
    people,
    People,
    PeopleTx,
    "users, their second factors and sign-in sessions"
);
aggregate!(
    accounts,
    Accounts,
    AccountsTx,
    "platform accounts, their sealed secrets and status"
);
aggregate!(
    playbooks,
    Playbooks,
    PlaybooksTx,
    "pre-approvals of playbook content"
);
aggregate!(
    drafts,
    Drafts,
    DraftsTx,
    "drafts and their moves through the approval workflow"
);
aggregate!(
    outbox,
    Outbox,
    OutboxTx,
    "approved messages and their deliveries: the durable outbox"
);
aggregate!(
    messages,
    Messages,
    MessagesTx,
    "sent messages as people read them: summaries, delivery grids, reviews, retries"
);
aggregate!(
    retention,
    Retention,
    RetentionTx,
    "purging rendered texts past their retention"
);
aggregate!(consents, Consents, ConsentsTx, "the consent register");
aggregate!(
    live_sessions,
    LiveSessions,
    LiveSessionsTx,
    "live sessions and their threads"
);
aggregate!(
    schedules,
    Schedules,
    SchedulesTx,
    "recurring repeats of sent messages"
);
aggregate!(
    conversation,
    Conversation,
    ConversationTx,
    "public posts heard under live sessions' hashtags"
);
aggregate!(feed, Feed, "messages for the public alert feed");
aggregate!(
    oauth,
    OAuth,
    OAuthTx,
    "accounts connected through OAuth 2 and authorisations under way"
);
aggregate!(
    audit,
    Audit,
    "the audit log: reading, verifying, exporting (appends go through a transaction)"
);
aggregate!(
    images,
    Images,
    ImagesTx,
    "uploaded images and the images of messages"
);
