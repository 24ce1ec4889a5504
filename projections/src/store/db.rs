//! Connecting to PostgreSQL: create the database when it is missing, then migrate.

use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};
use std::str::FromStr;
use std::time::Duration;

/// The schema migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Creates the database named in `url` if it does not exist yet. Safe to race: a concurrent
/// creator's "already exists" counts as success.
pub async fn ensure_database(url: &str) -> Result<(), sqlx::Error> {
    if Postgres::database_exists(url).await? {
        return Ok(());
    }
    match Postgres::create_database(url).await {
        Ok(()) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => Ok(()),
        Err(e) => Err(e),
    }
}

/// Opens a pool. Statement-level settings that every connection needs are set here.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?.application_name("igny8-admin");
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
}

pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    accept_other_landed_texts(pool).await?;
    MIGRATOR.run(pool).await
}

/// Migrations that landed with two texts: `(version, SHA-384 of the other text)`.
///
/// 0002, 0005 and 0007 landed once as first written (commit 51887b4) and later as edited (the
/// `service` column in 0002 rather than only in 0005, no `(kind, position)` ledger index in
/// 0007), and the files now hold the edited texts. Either way the migrations that follow bring
/// a database to the same schema: 0005 adds `service` if it is missing, 0011 drops the index if
/// it is there. sqlx, though, refuses a database whose recorded checksum differs from the
/// file's, so a database that ran the other text is given the file's checksum before migrating.
const OTHER_LANDED_TEXTS: &[(i64, &str)] = &[
    (
        2,
        "3d59a9b4b6b9e9fba3f9b129bc26c66b89bba7986b6ba893ebff841e85ee05825652417e29b67b97fa7a3effaec53ea1",
    ),
    (
        5,
        "df5d88bb7d177095fb7f9df52c07410d87dccdcbee0251312f1ca968c7bb7f99ebf8cc5b22564d545fed6318abd3dad0",
    ),
    (
        7,
        "25c5c66a2497b5d7af14b7401ce50fbb7094d430ff48401587bd66d816afd884632838f4ebe920fb24d807a546fb35fb",
    ),
];

/// Gives a database that ran another landed text of a migration (`OTHER_LANDED_TEXTS`) the
/// file's checksum. Never needed for a new case: a test (`landed_migrations_never_change`)
/// keeps landed migrations as they are.
async fn accept_other_landed_texts(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    let has_history: bool =
        sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(pool)
            .await?;
    if !has_history {
        return Ok(());
    }
    for (version, other) in OTHER_LANDED_TEXTS {
        let Some(migration) = MIGRATOR.iter().find(|m| m.version == *version) else {
            continue;
        };
        sqlx::query(
            "UPDATE _sqlx_migrations SET checksum = $1 \
             WHERE version = $2 AND checksum = decode($3, 'hex')",
        )
        .bind(migration.checksum.as_ref())
        .bind(version)
        .bind(other)
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// Everything `serve` needs before it can accept work: database, schema, pool.
pub async fn prepare(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    ensure_database(url).await?;
    let pool = connect(url, max_connections).await?;
    migrate(&pool).await?;
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use super::MIGRATOR;

    /// The SHA-384 of every migration that has landed. A landed migration never changes (a
    /// database migrated with the old text would be refused); change the schema with a new
    /// migration, and add its checksum here when it lands.
    const LANDED: &[(i64, &str)] = &[
        (1, "88b58706da4a7d5b02c6a38a8261a46b80a788b892781effb3dcaaee871217fd871bd1eaa173e0f5b8ae31f45936000b"),
        (2, "306fd0d3e66a65737f511ec192c315678a994891aae3c7f49cd04c2a88757fb3d12b790581fd7048e8b1c11fb1453396"),
        (3, "16d5a1ea42d3845aee19ac893cfcb839127e1e8b2fb9ed1be4b4c348734388118125675d616dc5714016a5ec092fe39d"),
        (4, "a8839a324d0c3ea40c250cba96380c3682c1174a7be7f3c82ee5a7df1b9d6710fbd24bcaf656f06ba7818e75040d7796"),
        (5, "4f0b4df5057d3e0364cd11557393cafdc68bff35cb1512ad9199018e0061568734c4f1c905bb15f155763105422f961c"),
        (6, "16c901658db4e589b37e36827e666f2c7e8310a8684068cecbefbe44375d1589c0918adedc68ee74f1d6a678b1dc9527"),
        (7, "bdbac7e66f89130cf944dff42a4c605ae55ee5dc5f20a8f18d1b4e7e842eb1893e425077d16ffe28e561c3e34af4435e"),
        (
            8,
            "0fd5871f0c93422901db4d85538b678d7d4ceb113588124fa801c9ed91f2956e122eefcefa58b291633e0e8460ff366e",
        ),
        (
            9,
            "b9aeb27f8a362e3ef2fff83143b14e47a10a7e4ab1a792d79b5200117770d5a73542b38b1ed09613212aff04b507b6b8",
        ),
        (
            10,
            "fee32fd054c4c037dd2c1bd1faa965d537a4d64a55b4c4b14bf5cf087dbd132b5afeb6adc794a3735e2c415d56aea3aa",
        ),
        (
            11,
            "475e849ef8779930a53d886cad66e6197aac36efbabb16b3ba5c6b41da2e11ae6394fab4972c7794b007de73ece8d0b4",
        ),
        (
            12,
            "f45430d39b208f56c9a203fd12577ba0e141b591bc3140ce9158b16769ba0eea47d1a5f91b56b6e752e409389df1d12e",
        ),
        (
            13,
            "f3d5c747fac09c11633be5af41facd4e1b174b791117cd3c2bfa79a583c5c81e80daedb69b503106f95d13566c9bbbaa",
        ),
        (
            14,
            "1bc5ccb150791429f85519c9e0724039f7114ea974e340a33a13db58d93f391e23c47ddc428f6672758f39b20838ee3a",
        ),
        (
            15,
            "0953fdb98bee19f85b9a1daa14ced20f6649bc59dcf457bf3a6852c34ecb6ea6942ccdcbf15185bbdbc946c7cdfe0d30",
        ),
        (
            16,
            "d37aa34580ba1b26de07f5987c9cd7a885a8a40b20c92dd221a72f14fd1b16b372d39f3317c27ffdd27e531339c43622",
        ),
        (
            17,
            "5dcc7293fa884ddf3327bec4bd39eefa79b143207de0b92a02f3b3cf9379aa785131b04b9cdbe6b9c62c4f2445513e37",
        ),
        (
            18,
            "f6759ff98b6254cc1c9f2504a720118ad69cb4cb8b6bf54764a157cbcd7c8796ea9c94eec4cbeea05332f4cc0792cf8e",
        ),
        (
            19,
            "6b9f82025d2764ee5f9df4c135445a5379ad99d535101dc91a8e2cd44401f063b8de272c94acced048deea215916ebfb",
        ),
        (
            20,
            "c65ca0d6f643b217af5d93ff0b18414a2410f0ca5fc3d138fd2959125725e032281c35c316f042c27a4afd84b75e6a2d",
        ),
        (
            21,
            "b3e0d881f22304ea80fd718cd72b992beb2d550ea09d161c1c2b139b53b1dc204519e7d1ea34702acce4b505b8dab303",
        ),
        (
            22,
            "2ad221fa2af421edadb51ac2033a87fb815b8f47fccd43cfd19595dcab032a45e85f0c9dac2add28627daf775043070d",
        ),
        (
            23,
            "f67c72597b45449de86857db5a7f81b5f5ea6099d769dd833a12f5cf2e68177531e592570fc2dab675f96b24c224ccbe",
        ),
        (
            24,
            "4a36ca6b8269fcdacb45725e66d6b83ca07f28763ffe83bca9e58d88c93c4b837f040eff446ec37a6c0e0cf180c26155",
        ),
        (
            25,
            "691c251051a7ba1b9b6fbaed89388910f0bf2b2669df578e175ff964a02c6d479d2aa7084ba3a3d81f292f321bcd87e5",
        ),
        (
            26,
            "bf4f1f115b96568889fcdd9e276722d3382ad599534116652f19b90a4723d834bebdc15b17c63cf642cf34cced449cdd",
        ),
        (
            27,
            "e2c914bd8d2eb1f2b3e56dd2044bc8586df6f197e718e6de20ec4e8300870f9fe57ece01139b013b7bf8e6c0113d1a39",
        ),
        (
            28,
            "df2db77960a99c767ca10760d6c7711d98db88826e721388263e46ee70af09ef543d22bf6aa94f6dbdca65c493fad76d",
        ),
        (
            29,
            "03c6f28724cd87ae621ed3ffa2b14f213d210a70190d35f2b623b99e56d80c8f6daf04830a89737504d249a93373c366",
        ),
        (
            30,
            "5b7135182019079481ccf446226db6f8d98bcd2cd57382d28dc7947da1feed26713be8a3347cac1b59d658f486a28de4",
        ),
        (
            31,
            "fd0db8fd6e03c7543f0c2c7fdc1840b06876ba7232dde41ced2e939a89a1d083a662c9a3c60069def86ccf05e94a833a",
        ),
        (
            32,
            "c04cb7ca9331fe31c314636eba37b73c7bcc761a0327cbe5ec3cfc0876e73c41044f15ef466f85cc3faf482a2c80465e",
        ),
        (
            33,
            "2763a04cd3cd4808e44edd907509e561ac9f807eccd324322af8e3b23aaf71399551d07bc28b9d63ec177e293faae1bb",
        ),
        (
            34,
            "4d3847b992b9e87e15f3b25ff749acd0dfc06a94314dc08bf39171201b4fbc9608633312f2404c4de587230a5706d0bb",
        ),
        (
            35,
            "71c22b8969b5d7caad4e0dc3010d476d5e4607ab17bddc3669e40088aba9aeaedc426c76a7db1591dfe5bce2ac348fb1",
        ),
    ];

    #[test]
    fn landed_migrations_never_change() {
        for migration in MIGRATOR.iter() {
            let checksum: String = migration
                .checksum
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            match LANDED
                .iter()
                .find(|(version, _)| *version == migration.version)
            {
                Some((_, landed)) => assert_eq!(
                    &checksum, landed,
                    "migration {} ({}) changed after it landed: put the change in a new migration",
                    migration.version, migration.description
                ),
                None => panic!(
                    "migration {} ({}) is new: once it lands, add ({}, \"{checksum}\") to LANDED",
                    migration.version, migration.description, migration.version
                ),
            }
        }
    }
}
