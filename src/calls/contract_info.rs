//! `GET permission-access/contract`.

use reqwest::Method;

use crate::DigiMe;
use crate::contract::ContractDetails;
use crate::error::Result;
use crate::models::ContractInfo;
use crate::signer::NoClaims;
use crate::transport::{Body, Call, CallKind};

impl DigiMe {
    /// Asks digi.me about a contract: returns [`ContractInfo`], the server's
    /// answer (access type, application, certificate, expiry), for instance
    /// to check that it is a write contract before pushing.
    ///
    /// Not to be confused with [`ContractDetails`], which is what *you*
    /// supply: the contract id and its private key.
    ///
    /// ```no_run
    /// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails) -> digime::Result<()> {
    /// let info = sdk.contract_info(&contract).await?;
    /// assert!(info.can_write(), "pushing needs a write contract");
    /// # Ok(()) }
    /// ```
    pub async fn contract_info(&self, contract: &ContractDetails) -> Result<ContractInfo> {
        let call = Call {
            endpoint: "permission-access/contract",
            method: Method::GET,
            path: "permission-access/contract",
            contract,
            claims: &NoClaims {},
            headers: Vec::new(),
            body: Body::Empty,
            kind: CallKind::Idempotent,
            ambiguous: Default::default(),
        };
        self.transport()
            .execute(&call, None)
            .await?
            .json("permission-access/contract")
    }
}
