//! What the platform admin allows one tenant: how many operators and plugins, how much a plugin
//! may use, and how many messages a minute the tenant's chats may carry.

use serde::{Deserialize, Serialize};

use crate::error::CoreError;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantLimits {
    /// Active operators and admins.
    pub operators: u32,
    pub plugins: u32,
    pub plugin_memory_mib: u32,
    pub plugin_timeout_ms: u32,
    /// Messages written in the tenant's chats per minute: visitors have this allowance, and
    /// operators another of the same size.
    pub messages_per_minute: u32,
    /// The largest file one of the tenant's chats takes, in MiB (the tenant may set less).
    pub file_mib: u32,
    /// All of the tenant's files together, in MiB.
    pub storage_mib: u32,
}

impl Default for TenantLimits {
    fn default() -> Self {
        Self {
            operators: 100,
            plugins: 10,
            plugin_memory_mib: 32,
            plugin_timeout_ms: 50,
            messages_per_minute: 6_000,
            file_mib: 25,
            storage_mib: 10_240,
        }
    }
}

/// A partial change; absent fields keep their value.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsPatch {
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    pub operators: Option<u32>,
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
    pub plugins: Option<u32>,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1024))]
    pub plugin_memory_mib: Option<u32>,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    pub plugin_timeout_ms: Option<u32>,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000000))]
    pub messages_per_minute: Option<u32>,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100))]
    pub file_mib: Option<u32>,
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 10000000))]
    pub storage_mib: Option<u32>,
}

impl TenantLimits {
    pub fn apply(self, patch: LimitsPatch) -> Result<Self, CoreError> {
        let next = Self {
            operators: patch.operators.unwrap_or(self.operators),
            plugins: patch.plugins.unwrap_or(self.plugins),
            plugin_memory_mib: patch.plugin_memory_mib.unwrap_or(self.plugin_memory_mib),
            plugin_timeout_ms: patch.plugin_timeout_ms.unwrap_or(self.plugin_timeout_ms),
            messages_per_minute: patch
                .messages_per_minute
                .unwrap_or(self.messages_per_minute),
            file_mib: patch.file_mib.unwrap_or(self.file_mib),
            storage_mib: patch.storage_mib.unwrap_or(self.storage_mib),
        };
        next.validate()?;
        Ok(next)
    }

    fn validate(&self) -> Result<(), CoreError> {
        let ranges = [
            ("limits.operators", self.operators, 1, 10_000),
            ("limits.plugins", self.plugins, 0, 100),
            ("limits.plugin_memory_mib", self.plugin_memory_mib, 1, 1_024),
            (
                "limits.plugin_timeout_ms",
                self.plugin_timeout_ms,
                1,
                10_000,
            ),
            (
                "limits.messages_per_minute",
                self.messages_per_minute,
                1,
                10_000_000,
            ),
            ("limits.file_mib", self.file_mib, 1, 100),
            ("limits.storage_mib", self.storage_mib, 0, 10_000_000),
        ];
        for (field, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err(CoreError::invalid(
                    field,
                    format!("must be from {min} to {max}"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_changes_only_its_fields_and_is_checked() {
        let limits = TenantLimits::default()
            .apply(LimitsPatch {
                operators: Some(3),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(limits.operators, 3);
        assert_eq!(limits.plugins, TenantLimits::default().plugins);
        for patch in [
            LimitsPatch {
                operators: Some(0),
                ..Default::default()
            },
            LimitsPatch {
                plugin_memory_mib: Some(5_000),
                ..Default::default()
            },
            LimitsPatch {
                messages_per_minute: Some(0),
                ..Default::default()
            },
        ] {
            assert!(matches!(
                limits.apply(patch),
                Err(CoreError::Invalid { .. })
            ));
        }
    }

    #[test]
    fn an_empty_document_means_the_defaults() {
        let parsed: TenantLimits = serde_json::from_str("{}").unwrap();
        assert_eq!(parsed, TenantLimits::default());
    }
}
