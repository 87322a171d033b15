//! demo
pub async fn run(_a: crate::cli::DemoArgs) -> anyhow::Result<()> {
    Ok(())
}
