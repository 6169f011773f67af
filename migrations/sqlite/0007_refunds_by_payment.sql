-- A payment's refunds are read with every load of the payment: without this index each load
-- scanned every refund ever made.
CREATE INDEX payment_refunds_payment ON payment_refunds (payment_id);
