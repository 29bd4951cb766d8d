//! `GET permission-access/contract`.

use crate::DigiMe;
use crate::contract::ContractDetails;
use crate::error::Result;
use crate::models::ContractInfo;
use crate::transport::Call;

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
        let call = Call::get("permission-access/contract", contract);
        self.transport()
            .execute(&call, None)
            .await?
            .json("permission-access/contract")
    }
}
