//! A store that goes down mid-push (through a proxy that cuts the connection) or refuses credentials.

use super::*;

/// A TCP proxy in front of the S3 server that "stops the store" once a byte budget is spent.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    budget: Arc<AtomicU64>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let p = Proxy {
            port,
            up: Arc::new(AtomicBool::new(true)),
            budget: Arc::new(AtomicU64::new(u64::MAX)),
            conns: Arc::default(),
        };
        let (up, budget, conns) = (p.up.clone(), p.budget.clone(), p.conns.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !up.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                conns
                    .lock()
                    .unwrap()
                    .extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (up2, budget2, conns2) = (up.clone(), budget.clone(), conns.clone());
                std::thread::spawn(move || pipe(client, server, Some((up2, budget2, conns2))));
                std::thread::spawn(move || pipe(s2, c2, None));
            }
        });
        p
    }

    fn set_budget(&self, bytes: u64) {
        self.budget.store(bytes, Ordering::SeqCst);
    }

    fn restart(&self) {
        self.budget.store(u64::MAX, Ordering::SeqCst);
        self.up.store(true, Ordering::SeqCst);
    }
}

type Limit = (Arc<AtomicBool>, Arc<AtomicU64>, Arc<Mutex<Vec<TcpStream>>>);

fn pipe(mut from: TcpStream, mut to: TcpStream, limit: Option<Limit>) {
    let mut buf = [0u8; 16384];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        if let Some((up, budget, conns)) = &limit {
            let left = budget.load(Ordering::SeqCst);
            if left < n as u64 || !up.load(Ordering::SeqCst) {
                // The store goes down: every connection is cut, new ones are refused.
                up.store(false, Ordering::SeqCst);
                for c in conns.lock().unwrap().drain(..) {
                    let _ = c.shutdown(Shutdown::Both);
                }
                break;
            }
            budget.store(left - n as u64, Ordering::SeqCst);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn counts(stderr: &str) -> (usize, usize) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("Pushed"))
        .unwrap_or_else(|| panic!("{stderr}"));
    // "Pushed 1 experiment (3 objects, 3.0 MiB) to origin; 0 up to date, 1 object already in
    // the store": the objects uploaded, and those the store had.
    let number_after = |marker: &str| -> usize {
        let rest = &line[line.find(marker).unwrap_or_else(|| panic!("{line}")) + marker.len()..];
        rest.split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (number_after("("), number_after("up to date, "))
}

#[test]
fn push_through_a_store_outage_fails_cleanly_then_resumes() {
    let Some(t) = team() else { return };
    let endpoint = std::env::var("KEEPSAKE_TEST_S3_ENDPOINT").unwrap();
    let proxy = Proxy::start(endpoint.rsplit(':').next().unwrap().parse().unwrap());
    let via_proxy = [("AWS_ENDPOINT", format!("http://127.0.0.1:{}", proxy.port))];
    let via_proxy: Vec<(&str, &str)> = via_proxy.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let project = t.alice.project();
    let mut exp = create(&project, None, json!({"lr": 0.1}));
    for step in 0..4 {
        let weights = noise(1 << 20, 7 + step as u64);
        std::fs::write(t.alice.dir.join("model.pth"), weights).unwrap();
        checkpoint(&project, &mut exp, Some("model.pth"), step, 0.1);
    }
    // The store goes down after about two of the four weight files.
    proxy.set_budget(2_500_000);
    let run = ks_env(
        &t.alice.dir,
        &["push", "origin", exp.id.as_str()],
        &via_proxy,
    )
    .fails();
    assert!(run.error_line().contains(&t.store), "{}", run.stderr);
    assert!(
        !remote_refs(&t.remote).contains("refs/keepsake/"),
        "refs landed without their data"
    );

    proxy.restart();
    let run = ks_env(
        &t.alice.dir,
        &["push", "origin", exp.id.as_str()],
        &via_proxy,
    )
    .ok();
    let (uploaded, already) = counts(&run.stderr);
    assert_eq!(uploaded + already, 4);
    assert!(
        already >= 1,
        "nothing was kept from the first attempt: {}",
        run.stderr
    );
    assert!(remote_refs(&t.remote).contains(exp.id.as_str()));
}

#[test]
fn a_store_that_refuses_credentials_is_one_clear_error() {
    let Some(t) = team() else { return };
    let Some(moto) = require_env("KEEPSAKE_TEST_MOTO_SERVER") else {
        return;
    };
    // A second S3 server that checks credentials (moto does once this is 0): ours are unknown.
    let mut server = S3Server::start(&moto, &[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]);
    let endpoint = server.endpoint.clone();
    let exp = record_run(&t.alice, 0.01, &[0.5]);
    let run = ks_env(
        &t.alice.dir,
        &["push", "origin", exp.id.as_str()],
        &[("AWS_ENDPOINT", &endpoint)],
    )
    .fails();
    server.kill();
    assert!(run.error_line().contains(&t.store), "{}", run.stderr);
    assert_eq!(run.error_count(), 1, "{}", run.stderr);
    assert!(!remote_refs(&t.remote).contains("refs/keepsake/"));
}
