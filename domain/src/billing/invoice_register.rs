//! The invoice register of one year: who got which number. Numbers run 1, 2, 3, … without gaps,
//! because the register hands out the next one only to an invoice locked for issuing (which
//! cannot fail to be issued after), and hands an invoice the number it already has when asked
//! again. One writer drives it (the issuing process manager), so it never races with itself;
//! a second writer would lose an optimistic-concurrency race and decide again, never skip.

use super::invoice::InvoiceNumber;
use crate::kit::error::{Coded, ErrorCode};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

const REGISTER_NAMESPACE: Uuid = Uuid::from_u128(0x51a8_c3e2_0f74_4d96_8b1d_e6a7_2c09_f4b3);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RegisterCommand {
    /// Safe to repeat: an invoice that has a number keeps it.
    Assign { year: i32, invoice_id: Uuid },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum RegisterEvent {
    InvoiceNumberAssigned {
        invoice_id: Uuid,
        number: InvoiceNumber,
    },
}

crate::stored_event!(RegisterEvent);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// `VALIDATION`
    #[error("register {register} cannot number an invoice of {asked}")]
    WrongYear { register: i32, asked: i32 },
}

impl Coded for RegisterError {
    fn code(&self) -> ErrorCode {
        ErrorCode::Validation
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InvoiceRegister {
    year: Option<i32>,
    last: i64,
    numbers: HashMap<Uuid, i64>,
}

impl InvoiceRegister {
    /// The aggregate id of `year`'s register.
    pub fn id_for(year: i32) -> Uuid {
        Uuid::new_v5(&REGISTER_NAMESPACE, year.to_string().as_bytes())
    }

    /// The number `invoice_id` was given, if any.
    pub fn number_of(&self, invoice_id: Uuid) -> Option<InvoiceNumber> {
        let year = self.year?;
        self.numbers
            .get(&invoice_id)
            .map(|&sequence| InvoiceNumber { year, sequence })
    }

    fn decide(&self, command: RegisterCommand) -> Result<Option<RegisterEvent>, RegisterError> {
        let RegisterCommand::Assign { year, invoice_id } = command;
        if let Some(register) = self.year.filter(|&register| register != year) {
            return Err(RegisterError::WrongYear {
                register,
                asked: year,
            });
        }
        if self.numbers.contains_key(&invoice_id) {
            return Ok(None);
        }
        Ok(Some(RegisterEvent::InvoiceNumberAssigned {
            invoice_id,
            number: InvoiceNumber {
                year,
                sequence: self.last + 1,
            },
        }))
    }
}

impl crate::kit::event::StoredAggregate for InvoiceRegister {}

impl Aggregate for InvoiceRegister {
    const TYPE: &'static str = "invoice_register";
    type Command = RegisterCommand;
    type Event = RegisterEvent;
    type Error = RegisterError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        if let Some(event) = self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        let RegisterEvent::InvoiceNumberAssigned { invoice_id, number } = event;
        self.year = Some(number.year);
        self.last = number.sequence;
        self.numbers.insert(invoice_id, number.sequence);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type RegisterTest = TestFramework<InvoiceRegister>;

    fn assigned(n: u128, sequence: i64) -> RegisterEvent {
        RegisterEvent::InvoiceNumberAssigned {
            invoice_id: Uuid::from_u128(n),
            number: InvoiceNumber {
                year: 2026,
                sequence,
            },
        }
    }

    fn assign(n: u128) -> RegisterCommand {
        RegisterCommand::Assign {
            year: 2026,
            invoice_id: Uuid::from_u128(n),
        }
    }

    #[tokio::test]
    async fn numbers_run_on_without_gaps_and_an_invoice_keeps_its_number() {
        RegisterTest::with(())
            .given_no_previous_events()
            .when_async(assign(1))
            .await
            .then_expect_events(vec![assigned(1, 1)]);
        RegisterTest::with(())
            .given(vec![assigned(1, 1), assigned(2, 2)])
            .when_async(assign(3))
            .await
            .then_expect_events(vec![assigned(3, 3)]);
        RegisterTest::with(())
            .given(vec![assigned(1, 1), assigned(2, 2)])
            .when_async(assign(1))
            .await
            .then_expect_events(vec![]);
    }

    #[tokio::test]
    async fn a_register_numbers_its_own_year_only() {
        RegisterTest::with(())
            .given(vec![assigned(1, 1)])
            .when_async(RegisterCommand::Assign {
                year: 2027,
                invoice_id: Uuid::from_u128(2),
            })
            .await
            .then_expect_error(RegisterError::WrongYear {
                register: 2026,
                asked: 2027,
            });
    }

    #[test]
    fn numbers_read_as_the_seeds_write_them() {
        let number = InvoiceNumber {
            year: 2026,
            sequence: 123,
        };
        assert_eq!(number.to_string(), "INV-2026-000123");
        let mut register = InvoiceRegister::default();
        register.apply(assigned(9, 1));
        assert_eq!(
            register.number_of(Uuid::from_u128(9)).unwrap().to_string(),
            "INV-2026-000001"
        );
        assert_eq!(register.number_of(Uuid::from_u128(8)), None);
    }
}
