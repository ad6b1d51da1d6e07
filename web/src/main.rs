//! `tandem`: serve, migrate, and manage tenants from the command line.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tandem_core::tenant::NewTenant;
use tandem_migrations::MigratorTrait;
use tandem_web::config::Config;
use tandem_web::{demo, notifications, plugin_cli, plugin_new, startup};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "tandem",
    version,
    about = "Tandem live chat: the server and its administration"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database, then serve the HTTP API (first run: create a demo tenant).
    Serve,
    /// Deliver unread-reply notifications only (no HTTP); run any number beside `serve`
    /// processes started with TANDEM_WORKER=off.
    Worker,
    /// Apply, roll back or list the database migrations.
    Migrate {
        #[arg(value_enum, default_value_t = MigrateAction::Up)]
        action: MigrateAction,
    },
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Check and try plugins offline, with the server's limits.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Start a plugin: a project in ./NAME that builds as it is, with the SDK.
    New {
        name: String,
        /// The language to write it in.
        #[arg(long, value_enum, default_value = "rust")]
        lang: plugin_new::Lang,
        /// Where to create the project's folder.
        #[arg(long, default_value = ".")]
        dir: std::path::PathBuf,
    },
    /// Validate a plugin as an upload would; prints its manifest.
    Check { file: std::path::PathBuf },
    /// Run one hook of a plugin with a JSON input; prints the answer.
    Run {
        file: std::path::PathBuf,
        /// offline_timeout, email_template, route_notification, offline_request, availability,
        /// operator_alert or chat_closed.
        hook: String,
        /// The hook's input as JSON: its context, or {"context", …} for the hooks that take
        /// more (see plugins/README.md).
        #[arg(long, required_unless_present = "fixture", conflicts_with = "fixture")]
        input: Option<String>,
        /// A file holding the hook's input (plugins/fixtures/ has one for each hook).
        #[arg(long)]
        fixture: Option<std::path::PathBuf>,
        /// The plugin's settings as JSON, checked against its schema; its defaults otherwise.
        #[arg(long)]
        settings: Option<String>,
    },
    /// Compile a component read on stdin for this server's engine (the server runs this in a
    /// child process to bound compilation's time and memory).
    #[command(hide = true)]
    Compile {
        #[arg(long)]
        cache_dir: Option<std::path::PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum MigrateAction {
    Up,
    /// Roll back the most recent migration.
    Down,
    Status,
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant and its first admin; prints one JSON object.
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        admin_email: String,
        /// Generated when absent.
        #[arg(long)]
        admin_password: Option<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("TANDEM_LOG")
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn")),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // The compiler child reads no configuration and touches no database.
    if let Command::Plugin {
        command: PluginCommand::Compile { cache_dir },
    } = &cli.command
    {
        return tandem_plugins::PluginHost::compile_child(cache_dir.as_deref());
    }
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // The chain of causes, not a backtrace: these errors are for the person at the prompt.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // Writing a new plugin's files needs no configuration.
    if let Command::Plugin {
        command: PluginCommand::New { name, lang, dir },
    } = &cli.command
    {
        let root = plugin_new::new(name, *lang, dir)?;
        println!(
            "created {}; build it with {} there (see its README.md)",
            root.display(),
            lang.build_hint()
        );
        return Ok(());
    }
    let config =
        Config::load().context("invalid configuration (tandem.toml or TANDEM_* variables)")?;
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Worker => worker(config).await,
        Command::Migrate { action } => migrate(config, action).await,
        Command::Plugin {
            command: PluginCommand::New { .. },
        } => anyhow::bail!("`tandem plugin new` runs before the configuration is read"),
        Command::Plugin {
            command: PluginCommand::Check { file },
        } => plugin_cli::check(&config, &file).await,
        Command::Plugin {
            command:
                PluginCommand::Run {
                    file,
                    hook,
                    input,
                    fixture,
                    settings,
                },
        } => {
            let input = match (input, fixture) {
                (Some(input), _) => input,
                (None, Some(path)) => std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read the fixture {}", path.display()))?,
                (None, None) => anyhow::bail!("give --input or --fixture"),
            };
            let given = plugin_cli::RunInput { input, settings };
            plugin_cli::run(&config, &file, &hook, given).await
        }
        Command::Plugin {
            command: PluginCommand::Compile { .. },
        } => anyhow::bail!("`tandem plugin compile` runs before the configuration is read"),
        Command::Tenant {
            command:
                TenantCommand::Create {
                    slug,
                    name,
                    admin_email,
                    admin_password,
                },
        } => {
            let db = startup::open_database(&config).await?;
            let (tandem, _) = startup::tandem(db, &config);
            let created = tandem
                .tenants
                .create(
                    &tandem_core::audit::PlatformActor::command_line(),
                    NewTenant {
                        slug,
                        name,
                        admin_email,
                        admin_password,
                    },
                )
                .await?;
            println!("{}", serde_json::to_string(&created)?);
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let shutdown = startup::shutdown_signal();
    let db = startup::open_database(&config).await?;
    let services = startup::services(db, &config).await?;
    let tandem = services.tandem.clone();
    let app = startup::Application::build(&config, services).await?;
    let smtp = startup::inbound_smtp(&config, &tandem).await?;
    let addr = app.local_addr()?;
    let public_url = config.public_url(addr);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Tandem is listening on http://{addr}  (database: {})",
        startup::redact(&config.database_url)
    )?;
    if let Some(created) = demo::ensure_demo_tenant(&tandem).await? {
        writeln!(out, "{}", demo::announce(&created, &public_url))?;
    }
    if config.smtp_url.is_none() {
        if addr.ip().is_loopback() && config.dev_mailbox {
            writeln!(
                out,
                "Mail            {public_url}/dev/mailbox  (no SMTP configured)"
            )?;
        } else {
            writeln!(
                out,
                "Mail            {}/*.eml  (no SMTP configured; TANDEM_DEV_MAILBOX=true lists it at /dev/mailbox on a loopback address)",
                config.mailbox_dir.display()
            )?;
        }
    }
    if let Some(smtp) = smtp {
        writeln!(out, "Inbound mail    smtp://{smtp}")?;
    }
    if config
        .platform_token
        .as_deref()
        .is_some_and(|t| !t.is_empty())
    {
        writeln!(
            out,
            "Platform        {public_url}/platform  (tenants, usage, health, audit trail; sign in with TANDEM_PLATFORM_TOKEN)"
        )?;
    }
    out.flush()?;
    drop(out);
    app.run_until(shutdown).await
}

async fn worker(config: Config) -> anyhow::Result<()> {
    let shutdown = startup::shutdown_signal();
    let db = startup::open_database(&config).await?;
    let startup::Services {
        tandem,
        bus,
        cluster,
        queue,
        plugins,
        ..
    } = startup::services(db, &config).await?;
    let public_url = config.public_url(config.bind);
    let mail = notifications::Mail::from_config(&config, &tandem)?;
    // apalis refuses two live workers of one name: each process gets its own.
    let name = config
        .node_id
        .clone()
        .unwrap_or_else(|| format!("worker-{}", tandem_core::ids::ConnectionId::new()));
    let delivery =
        notifications::delivery(&config, &tandem, &plugins, &mail, queue, &public_url, &name)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // What the worker changes ("emailed" on replies) reaches the serving nodes' sockets.
    let cluster = cluster.map(|c| c.spawn(bus, tandem.clone(), stop_rx.clone()));
    let bookkeeping = tandem_web::bookkeeping::spawn(
        tandem.clone(),
        (name.clone(), tandem_core::installation::NodeRole::Worker),
        std::time::Duration::from_secs(config.heartbeat_secs.max(1)),
        stop_rx.clone(),
    );
    let running = delivery.spawn(stop_rx);
    if let Some(smtp) = startup::inbound_smtp(&config, &tandem).await? {
        println!("Taking inbound mail on smtp://{smtp}");
    }
    println!(
        "Tandem worker {name} is delivering notifications  (database: {})",
        startup::redact(&config.database_url)
    );
    shutdown.await;
    let _ = stop_tx.send(true);
    let _ = running.await;
    let _ = bookkeeping.await;
    if let Err(e) = tandem.usage.flush().await {
        tracing::warn!(error = %e, "the last usage counts were not written");
    }
    if let Some(cluster) = cluster {
        let _ = cluster.await;
    }
    Ok(())
}

async fn migrate(config: Config, action: MigrateAction) -> anyhow::Result<()> {
    let db = tandem_core::database::connect(&config.database_url).await?;
    match action {
        MigrateAction::Up => {
            tandem_migrations::Migrator::up(&db, None).await?;
            println!("database is up to date");
        }
        MigrateAction::Down => {
            tandem_migrations::Migrator::down(&db, Some(1)).await?;
            println!("rolled back the most recent migration");
        }
        MigrateAction::Status => {
            for migration in tandem_migrations::Migrator::get_migration_with_status(&db).await? {
                println!("{}\t{}", migration.name(), migration.status());
            }
        }
    }
    Ok(())
}
