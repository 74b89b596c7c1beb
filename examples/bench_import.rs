//! Writes a Tachi export of the size of a real instance, for `bench/import`:
//!
//! ```text
//! bench_import DIR [USERS] [KEYS]   USERS users (100 000) and KEYS API keys (300 000) into DIR,
//!                                   as mongoexport writes them (relaxed Extended JSON, one per line)
//! ```
//!
//! One API client per 100 users, plus two of Tachi's built-in clients; the
//! keys are spread over the users, half from a client, a quarter from a
//! built-in hook, a quarter made by hand. Every user has the same bcrypt
//! hash (cost 12, as Tachi makes them): the import does not verify it, and
//! 100 000 of them would take the generator minutes.

#[path = "../tests/it/support/tachi.rs"]
#[allow(dead_code)]
mod tachi;

use tachi::Format;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: bench_import DIR [USERS] [KEYS]");
        std::process::exit(2);
    };
    let number = |i: usize, default: i64| args.get(i).map_or(default, |a| a.parse().expect("a number"));
    let (users, keys) = (number(1, 100_000), number(2, 300_000));
    let dir = std::path::Path::new(dir);
    std::fs::create_dir_all(dir).expect("create the export folder");
    let f = Format::Relaxed;
    let joined = 1_600_000_000_000;

    tachi::write(dir, "users.json", (1..=users).map(|id| tachi::user(f, id, &format!("player{id}"), joined + id)));
    let hash = tachi::bcrypt_hash("correct horse battery", 12);
    tachi::write(
        dir,
        "user-private-information.json",
        (1..=users).map(|id| tachi::private(f, id, &format!("player{id}@example.org"), &hash)),
    );

    let clients: Vec<String> = (0..(users + 99) / 100).map(|_| format!("CI{}", tachi::random20hex())).collect();
    let template = Some(("{\"apiKey\": \"%%TACHI_KEY%%\"}", "tachi.json"));
    let builtin = ["CXKsHook", "CXFervidex"];
    let docs = clients.iter().enumerate().map(|(i, id)| {
        let secret = format!("CS{}", tachi::random20hex());
        let author = (i as i64) * 100 + 1;
        let redirect = Some("https://stats.example/tachi-callback");
        tachi::client(i as u64, id, &secret, &format!("Stats Site {i}"), author, &["submit_score"], redirect, template)
    });
    let hooks = builtin.iter().enumerate().map(|(i, id)| {
        let secret = format!("CS{}", tachi::random20hex());
        tachi::client(1_000_000 + i as u64, id, &secret, &format!("Hook {i}"), 1, &["submit_score"], None, template)
    });
    tachi::write(dir, "api-clients.json", docs.chain(hooks));

    tachi::write(
        dir,
        "api-tokens.json",
        (0..keys).map(|n| {
            let user = n % users + 1;
            let (client, identifier) = match n % 4 {
                0 | 1 => (Some(clients[(user as usize - 1) / 100].as_str()), "Stats Site Token"),
                2 => (Some(builtin[(n / 4 % 2) as usize]), "Hook"),
                _ => (None, "Custom Token"),
            };
            tachi::token(f, n as u64, user, &tachi::random20hex(), identifier, &["submit_score"], client)
        }),
    );
    println!("wrote {users} users, {} clients and {keys} keys into {}", clients.len() + builtin.len(), dir.display());
}
