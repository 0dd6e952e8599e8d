//! The environment variables git-keepsake reads or sets, each named once here (as uv's
//! `EnvVars`); code refers to these constants, never to the names. README.md's "Environment
//! variables" table is written from this list.

/// Every environment variable the project reads or sets.
pub struct EnvVars;

impl EnvVars {
    /// Fixes the clock of the process at an RFC 3339 timestamp (each reading still advances by a
    /// millisecond, so records keep their order), for hermetic tests.
    pub const GIT_KEEPSAKE_NOW: &'static str = "GIT_KEEPSAKE_NOW";

    /// Set for the `git push` that `git keepsake push` runs: it has just verified the data in
    /// the remote's store, so the pre-push hook need not check it again.
    pub const GIT_KEEPSAKE_PUSH_VERIFIED: &'static str = "GIT_KEEPSAKE_PUSH_VERIFIED";

    /// How long (seconds, default 600) the Python recorder keeps retrying a checkpoint upload
    /// that fails transiently before giving it up.
    pub const KEEPSAKE_UPLOAD_RETRY_SECONDS: &'static str = "KEEPSAKE_UPLOAD_RETRY_SECONDS";

    /// How much memory (megabytes) the Python recorder may hold captured checkpoint files in
    /// before it packs them into a tarball on disk instead.
    pub const KEEPSAKE_CAPTURE_MEMORY_MB: &'static str = "KEEPSAKE_CAPTURE_MEMORY_MB";

    /// The S3 endpoint URL (an S3-compatible server such as MinIO or moto); `http://` allows
    /// plain HTTP. Read before `AWS_ENDPOINT_URL`.
    pub const AWS_ENDPOINT: &'static str = "AWS_ENDPOINT";

    /// The S3 endpoint URL when `AWS_ENDPOINT` is unset.
    pub const AWS_ENDPOINT_URL: &'static str = "AWS_ENDPOINT_URL";

    /// The S3 region; when neither it nor `AWS_DEFAULT_REGION` is set, `us-east-1`.
    pub const AWS_REGION: &'static str = "AWS_REGION";

    /// The S3 region (see `AWS_REGION`).
    pub const AWS_DEFAULT_REGION: &'static str = "AWS_DEFAULT_REGION";

    /// A Google Cloud service account key file, for `gs://` stores.
    pub const GOOGLE_APPLICATION_CREDENTIALS: &'static str = "GOOGLE_APPLICATION_CREDENTIALS";

    /// A Google Cloud service account key (JSON), for `gs://` stores.
    pub const GOOGLE_SERVICE_ACCOUNT: &'static str = "GOOGLE_SERVICE_ACCOUNT";

    /// A Google Cloud service account key file, for `gs://` stores.
    pub const GOOGLE_SERVICE_ACCOUNT_PATH: &'static str = "GOOGLE_SERVICE_ACCOUNT_PATH";

    /// A Google Cloud service account key (JSON), for `gs://` stores.
    pub const GOOGLE_SERVICE_ACCOUNT_KEY: &'static str = "GOOGLE_SERVICE_ACCOUNT_KEY";

    /// The home directory, where gcloud keeps application default credentials
    /// (`~/.config/gcloud/application_default_credentials.json`).
    pub const HOME: &'static str = "HOME";

    /// Test suite: the virtualenv holding the real Keepsake 0.4.2 for the compatibility tests.
    pub const KEEPSAKE_VENV: &'static str = "KEEPSAKE_VENV";

    /// Test suite: the `moto_server` executable the S3 tests start.
    pub const KEEPSAKE_TEST_MOTO_SERVER: &'static str = "KEEPSAKE_TEST_MOTO_SERVER";

    /// Test suite: the URL of a running S3 server (with a `keepsake-test` bucket).
    pub const KEEPSAKE_TEST_S3_ENDPOINT: &'static str = "KEEPSAKE_TEST_S3_ENDPOINT";

    /// Read by Keepsake 0.4.2 (not by git-keepsake): set by the tests so it sends no analytics.
    pub const KEEPSAKE_NO_ANALYTICS: &'static str = "KEEPSAKE_NO_ANALYTICS";

    /// Any non-empty value turns colour off (no-color.org), unless `--color=always` or a git
    /// colour setting of `always` asks for it.
    pub const NO_COLOR: &'static str = "NO_COLOR";

    /// `dumb` turns automatic colour off, as in git.
    pub const TERM: &'static str = "TERM";

    /// The terminal's width for fitting `ls`'s table (on a terminal only), over its own size.
    pub const COLUMNS: &'static str = "COLUMNS";

    /// The pager for `ls`, `ps`, `show` and `diff` on a terminal, over git's `pager.keepsake`
    /// and `core.pager`; empty or `cat` means none.
    pub const GIT_PAGER: &'static str = "GIT_PAGER";

    /// The pager when neither `GIT_PAGER` nor git config names one (then `less`).
    pub const PAGER: &'static str = "PAGER";

    /// less's options; `FRX` is set for the pager when it is unset, as git does.
    pub const LESS: &'static str = "LESS";

    /// lv's options; `-c` is set for the pager when it is unset, as git does.
    pub const LV: &'static str = "LV";

    /// Set by git when it runs our output through its pager (`pager.keepsake = true`): stdout
    /// is a person's, so colour and the table's fitting follow as on a terminal.
    pub const GIT_PAGER_IN_USE: &'static str = "GIT_PAGER_IN_USE";
}

/// Google Cloud credentials variables, any of which configures a `gs://` store.
pub const GCS_CREDENTIALS: [&str; 4] = [
    EnvVars::GOOGLE_APPLICATION_CREDENTIALS,
    EnvVars::GOOGLE_SERVICE_ACCOUNT,
    EnvVars::GOOGLE_SERVICE_ACCOUNT_PATH,
    EnvVars::GOOGLE_SERVICE_ACCOUNT_KEY,
];
