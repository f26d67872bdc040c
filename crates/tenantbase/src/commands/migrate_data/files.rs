//! `--files-to`: copies every object of the local store (`<data_dir>/files`: org files,
//! avatars, audit archives) to S3 or Azure Blob. An object already in the target with the
//! same size is skipped, so an interrupted copy resumes; a half-sent object is never
//! visible there (multipart uploads appear only when finished).

use anyhow::{Context, bail};
use futures::StreamExt;
use tenantbase_blob::{BlobConfig, BlobError, BlobStore, PROBE_KEY};

use super::progress::Progress;
use crate::config::Config;
use crate::files_config::FilesBackend;

/// The target store `url` names: `s3://BUCKET` or `azure://CONTAINER`, with the other
/// settings (region, endpoint, credentials, path style; account, key) from the
/// configuration's `files.s3.*` or `files.azure.*` — the keys the servers on the new
/// deployment will read.
pub(crate) fn target_config(config: &Config, url: &str) -> anyhow::Result<BlobConfig> {
    let parsed = url::Url::parse(url).context("--files-to is not a URL")?;
    let name = parsed
        .host_str()
        .filter(|name| !name.is_empty())
        .context("--files-to names no bucket or container (s3://BUCKET, azure://CONTAINER)")?;
    if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() {
        bail!(
            "--files-to takes only a bucket or container name; set the rest in files.s3.* or files.azure.*"
        );
    }
    let mut files = config.files.clone();
    match parsed.scheme() {
        "s3" => {
            files.backend = FilesBackend::S3;
            files.s3.bucket = name.to_owned();
        }
        "azure" => {
            files.backend = FilesBackend::Azure;
            files.azure.container = name.to_owned();
        }
        other => bail!("--files-to must be s3://… or azure://…, not {other}://"),
    }
    files.blob_config(&config.data_dir)
}

/// Copies what the local store holds to `target`; prints a line per 5 s and a summary.
pub(crate) async fn copy_objects(config: &Config, target: &BlobConfig) -> anyhow::Result<()> {
    if config.files.backend != FilesBackend::Local {
        bail!("--files-to copies the local files folder, but files.backend is not \"local\"");
    }
    let source = crate::serve::open_blob(config).await?;
    let target = BlobStore::open(target)
        .await
        .context("opening the --files-to store")?;
    let mut listing = source.list("");
    let mut objects = Vec::new();
    while let Some(meta) = listing.next().await {
        let meta = meta.context("listing the local files")?;
        // Each store keeps its own readiness probe.
        if meta.key != PROBE_KEY {
            objects.push(meta);
        }
    }
    let mut meter = Progress::new("objects", objects.len() as u64);
    let (mut copied, mut skipped, mut bytes) = (0u64, 0u64, 0u64);
    for meta in &objects {
        match target.head(&meta.key).await {
            Ok(there) if there.size == meta.size => skipped += 1,
            Ok(_) | Err(BlobError::NotFound) => {
                copy_one(&source, &target, &meta.key)
                    .await
                    .with_context(|| format!("copying the object {}", meta.key))?;
                copied += 1;
                bytes += meta.size;
            }
            Err(error) => {
                return Err(error).with_context(|| format!("looking for {} there", meta.key));
            }
        }
        meter.advance("files", 1);
    }
    meter.finish();
    println!("files: {copied} objects copied ({bytes} bytes), {skipped} already there");
    Ok(())
}

/// Streams one object across, part by part; on failure the partial upload is dropped.
async fn copy_one(source: &BlobStore, target: &BlobStore, key: &str) -> anyhow::Result<()> {
    let mut read = source.read(key, None).await?;
    let mut writer = target.writer(key).await?;
    while let Some(chunk) = read.body.next().await {
        match chunk {
            Ok(chunk) => writer.write(chunk).await?,
            Err(error) => {
                let _ = writer.abort().await;
                return Err(error.into());
            }
        }
    }
    writer.finish().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use tenantbase_blob::BlobConfig;

    use super::target_config;
    use crate::config::Config;

    fn config() -> Config {
        let mut config = Config::default();
        config.files.s3.endpoint = Some("http://127.0.0.1:9000".to_owned());
        config.files.s3.path_style = true;
        config.files.azure.account = "acct".to_owned();
        config
    }

    #[test]
    fn the_url_names_the_bucket_or_container_and_the_config_the_rest() {
        let BlobConfig::S3(s3) = target_config(&config(), "s3://moved").expect("s3") else {
            panic!("not S3")
        };
        assert_eq!(s3.bucket, "moved");
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(s3.path_style);
        let BlobConfig::Azure(azure) = target_config(&config(), "azure://box/").expect("azure")
        else {
            panic!("not Azure")
        };
        assert_eq!(
            (azure.account.as_str(), azure.container.as_str()),
            ("acct", "box")
        );
    }

    #[test]
    fn other_urls_are_refused_saying_why() {
        let refused = |url: &str| target_config(&config(), url).expect_err(url).to_string();
        assert!(refused("gs://bucket").contains("s3://… or azure://…"));
        assert!(refused("s3://bucket/prefix").contains("only a bucket or container"));
        assert!(refused("s3://bucket?region=x").contains("only a bucket or container"));
        assert!(refused("s3:///").contains("names no bucket"));
        assert!(refused("not a url").contains("not a URL"));
        let mut no_account = config();
        no_account.files.azure.account.clear();
        assert!(
            target_config(&no_account, "azure://box")
                .expect_err("no account")
                .to_string()
                .contains("files.azure.account")
        );
    }
}
